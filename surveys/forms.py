"""The researcher's survey form: a preset's values to start from, every protocol field to adjust."""
from __future__ import annotations

import re

from django import forms
from django.core.validators import RegexValidator
from django.db.models import Count

from generation.models import ImagePool
from generation.selectors import owned_by

from .models import Survey
from .protocol import ATTENTION_SOURCES, CHOOSE, DEFAULT_PRESET, PAIRINGS, PRESETS, Protocol, Staircase

STAIRCASE_FIELDS = ("start_ms", "min_ms", "max_ms", "step_after_error_ms", "step_after_correct_ms")
# Protocol fields the form carries one to one (exposures_ms and the staircase are converted).
PLAIN_PROTOCOL_FIELDS = (
    "mask_count", "mask_ms", "countdown_s", "pairs", "choose", "real_fraction", "trials_per_cell", "blocks", "feedback",
    "training_examples", "qualification_trials", "qualification_min_accuracy", "practice_trials",
    "attention_checks", "attention_source", "attention_exposure_ms", "max_attention_failures",
)
CHOOSE_LABELS = {"real": "the more realistic image", "fake": "the fake image"}
ATTENTION_SOURCE_LABELS = {"pool": "a pool marked obviously bad", "blur": "heavily blurred real images (made for you)"}
# Prolific's codes are letters and digits; nothing else may end up in the completion URL.
prolific_code_validator = RegexValidator(r"^[A-Za-z0-9_-]*$", "A Prolific code is letters and digits only.")
TEXT_FIELDS = ("question_en", "question_ja", "instructions_en", "instructions_ja", "consent_en", "consent_ja")


class PoolChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, pool):
        return f"{pool.name} ({pool.get_kind_display().lower()}, {pool.image_count} images)"


class PoolSingleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, pool):
        return f"{pool.name} ({pool.get_kind_display().lower()}, {pool.image_count} images)"


def _pools():
    # Explicit order: Django ignores Meta.ordering once a query groups, and the arms take this order.
    return ImagePool.objects.annotate(image_count=Count("images")).order_by("name")


def _whole(label: str, help_text: str = "", required: bool = True, minimum: int = 0) -> forms.IntegerField:
    return forms.IntegerField(label=label, help_text=help_text, required=required, min_value=minimum)


class SurveyCreateForm(forms.ModelForm):
    preset = forms.ChoiceField(choices=[(name, preset.title) for name, preset in PRESETS.items()],
                               widget=forms.HiddenInput)
    trials_per_participant = _whole(
        "Main trials per participant", "Not counting training, qualification, practice or attention checks. "
        "Leave empty when trials per cell is set: the count is then cells times trials per cell.", required=False,
        minimum=1)
    pools = PoolChoiceField(
        queryset=_pools().filter(obviously_bad=False), widget=forms.CheckboxSelectMultiple, label="Compared pools",
        help_text="The arms measured. Pools marked obviously bad are offered only as the attention pool below.",
    )
    # Presentation
    exposures_ms = forms.CharField(
        label="Exposures (ms)", required=False,
        help_text="Comma-separated, e.g. 125, 250, 500. Empty: the images stay until the answer (unlimited time).",
    )
    mask_count = _whole("Noise masks after a timed exposure")
    mask_ms = _whole("Each mask's duration (ms)", "Empty: the last mask stays until the answer.", required=False,
                     minimum=1)
    countdown_s = _whole("Countdown before each block (s)", "0: none.")
    adaptive = forms.BooleanField(
        label="Adaptive exposure (staircase, real or fake only)", required=False,
        help_text="Replaces the fixed exposures: longer after an error, shorter after a correct answer.",
    )
    staircase_start_ms = _whole("Staircase: start (ms)", required=False, minimum=1)
    staircase_min_ms = _whole("Staircase: shortest (ms)", required=False, minimum=1)
    staircase_max_ms = _whole("Staircase: longest (ms)", required=False, minimum=1)
    staircase_step_after_error_ms = _whole("Staircase: longer after an error by (ms)", required=False)
    staircase_step_after_correct_ms = _whole("Staircase: shorter after a correct answer by (ms)", required=False)
    # Design
    pairs = forms.ChoiceField(
        label="Pairs (pairwise)", choices=[(value, value) for value in PAIRINGS],
        help_text="all: every pair of compared pools; vs_real: each real pool against each generated one; "
                  "vs_first: the first pool against each other.",
    )
    choose = forms.ChoiceField(
        label="Participants pick (pairwise)", choices=[(value, CHOOSE_LABELS[value]) for value in CHOOSE],
    )
    real_fraction = forms.FloatField(label="Share of real images (real or fake)", min_value=0, max_value=1)
    trials_per_cell = _whole(
        "Trials per cell", "A cell is a comparison (pairwise) or a pool (real or fake) at one exposure. "
        "Empty: use the main trial count above.", required=False, minimum=1)
    blocks = _whole("Blocks of main trials", minimum=1)
    feedback = forms.BooleanField(label="Feedback after each main trial", required=False)
    # Phases before the main trials
    training_examples = _whole("Labelled training examples (real or fake)")
    qualification_trials = _whole("Qualification trials (real or fake)",
                                  "Untimed; a participant below the accuracy is screened out.")
    qualification_min_accuracy = forms.FloatField(
        label="Qualification: accuracy needed", min_value=0, max_value=1,
        help_text="On real images and on generated images alike, e.g. 0.65.",
    )
    practice_trials = _whole("Practice trials (with feedback)")
    # Attention checks
    attention_checks = _whole("Attention checks", "Mixed into the main trials, unannounced.")
    attention_source = forms.ChoiceField(
        label="Attention checks show", choices=[(value, ATTENTION_SOURCE_LABELS[value]) for value in ATTENTION_SOURCES],
    )
    attention_bad_pool = PoolSingleChoiceField(
        queryset=_pools().filter(obviously_bad=True), required=False, label="Obviously bad pool",
        help_text="Mark a pool on its page as obviously bad to offer it here.",
    )
    attention_real_pool = PoolSingleChoiceField(
        queryset=_pools().filter(obviously_bad=False, kind=ImagePool.Kind.REAL), required=False,
        label="Real pool for attention checks", help_text="Pairwise: needed when no compared pool is real.",
    )
    attention_exposure_ms = _whole("Attention check exposure (ms)",
                                   "Empty: the longest exposure (unlimited when untimed).", required=False, minimum=1)
    max_attention_failures = _whole("Failed checks allowed",
                                    "A participant failing more is left out of the analysis.")
    open_now = forms.BooleanField(required=False, initial=True, label="Open to participants now")

    class Meta:
        model = Survey
        fields = ["name", "kind", "trials_per_participant", *TEXT_FIELDS,
                  "prolific_completion_code", "prolific_screened_out_code"]
        labels = {
            "question_en": "Question (English)", "question_ja": "Question (Japanese)",
            "instructions_en": "Instructions (English)", "instructions_ja": "Instructions (Japanese)",
            "consent_en": "Consent text (English)", "consent_ja": "Consent text (Japanese)",
            "prolific_completion_code": "Prolific completion code",
            "prolific_screened_out_code": "Prolific screened-out code",
        }
        help_texts = {
            "prolific_completion_code": "The code Prolific gives the study; can be added later on the survey's page.",
        }
        widgets = {field: forms.Textarea(attrs={"rows": 3}) for field in TEXT_FIELDS if not field.startswith("question")}

    # The sections of the page, in order.
    SECTIONS = [
        ("Survey", ["name", "kind", "trials_per_participant", "pools"]),
        ("Presentation", ["exposures_ms", "mask_count", "mask_ms", "countdown_s"]),
        ("Adaptive exposure", ["adaptive", "staircase_start_ms", "staircase_min_ms", "staircase_max_ms",
                               "staircase_step_after_error_ms", "staircase_step_after_correct_ms"]),
        ("Design", ["pairs", "choose", "real_fraction", "trials_per_cell", "blocks", "feedback"]),
        ("Before the main trials", ["training_examples", "qualification_trials", "qualification_min_accuracy",
                                    "practice_trials"]),
        ("Attention checks", ["attention_checks", "attention_source", "attention_bad_pool", "attention_real_pool",
                              "attention_exposure_ms", "max_attention_failures"]),
        ("Texts shown to participants", list(TEXT_FIELDS)),
        ("Prolific", ["prolific_completion_code", "prolific_screened_out_code"]),
        ("", ["open_now"]),
    ]

    @classmethod
    def initial_for(cls, preset_name: str) -> dict:
        """The form's starting values: the preset's kind, trial count, question and protocol."""
        preset = PRESETS[preset_name]
        protocol = preset.protocol
        stairs = protocol.staircase or Staircase()
        return {
            "preset": preset.name, "kind": preset.kind, "trials_per_participant": preset.trials,
            "question_en": preset.question_en, "question_ja": preset.question_ja,
            "exposures_ms": ", ".join(str(value) for value in protocol.exposures_ms),
            "adaptive": protocol.staircase is not None,
            **{f"staircase_{name}": getattr(stairs, name) for name in STAIRCASE_FIELDS},
            **{name: getattr(protocol, name) for name in PLAIN_PROTOCOL_FIELDS},
            "open_now": True,
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("prolific_completion_code", "prolific_screened_out_code"):
            self.fields[name].validators.append(prolific_code_validator)
        self._offer_pools_of(user)

    def _offer_pools_of(self, user) -> None:
        """Only ``user``'s pools (a superuser's: all): another researcher's pool id posted here is refused as an
        invalid choice, like a pool that does not exist."""
        pools = owned_by(_pools(), user=user)
        self.fields["pools"].queryset = pools.filter(obviously_bad=False)
        self.fields["attention_bad_pool"].queryset = pools.filter(obviously_bad=True)
        self.fields["attention_real_pool"].queryset = pools.filter(obviously_bad=False, kind=ImagePool.Kind.REAL)

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]

    def clean_exposures_ms(self) -> tuple[int, ...]:
        text = self.cleaned_data["exposures_ms"].strip()
        parts = [part for part in re.split(r"[,\s]+", text) if part]
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError("Give whole milliseconds separated by commas, e.g. 125, 250, 500.")
        return tuple(int(part) for part in parts)

    def clean(self):
        data = super().clean()
        if data.get("adaptive"):
            missing = [name for name in STAIRCASE_FIELDS if data.get(f"staircase_{name}") is None]
            if missing:
                raise forms.ValidationError(f"An adaptive exposure needs every staircase field: {', '.join(missing)}.")
        return data

    def protocol(self) -> Protocol:
        """The protocol the form describes; Protocol.validate (in survey_create) judges whether it fits."""
        data = self.cleaned_data
        staircase = None
        if data["adaptive"]:
            staircase = Staircase(**{name: data[f"staircase_{name}"] for name in STAIRCASE_FIELDS})
        return Protocol(exposures_ms=data["exposures_ms"], staircase=staircase,
                        **{name: data[name] for name in PLAIN_PROTOCOL_FIELDS})

    def texts(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in TEXT_FIELDS}


def preset_name(value: str | None) -> str:
    """The preset asked for in ``?preset=``, or the default one when none (or an unknown one) is asked for."""
    return value if value in PRESETS else DEFAULT_PRESET


class ProlificCodesForm(forms.ModelForm):
    class Meta:
        model = Survey
        fields = ["prolific_completion_code", "prolific_screened_out_code"]
        labels = SurveyCreateForm.Meta.labels

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.validators.append(prolific_code_validator)


import zipfile
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from generation import imaging, selectors
from generation.imaging import EXTENSIONS
from generation.models import ImagePool

IMAGE_ACCEPT = ",".join(sorted(EXTENSIONS)) + ",image/png,image/jpeg,image/webp"


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's FileField takes one file; this one takes a list (possibly empty when not required)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [f for f in data if f] if isinstance(data, (list, tuple)) else [data] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class PoolImportForm(forms.Form):
    name = forms.CharField(
        max_length=200, label="Pool name", help_text="Researcher-facing; never shown to participants."
    )
    kind = forms.ChoiceField(choices=ImagePool.Kind.choices, initial=ImagePool.Kind.IMPORTED)
    skip_bad = forms.BooleanField(
        required=False,
        label="Skip bad files",
        help_text="Import the valid images and list the bad ones, instead of importing nothing.",
    )
    archive = forms.FileField(
        required=False,
        label="A zip file",
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
    )
    images = MultipleFileField(
        required=False,
        label="… or image files",
        help_text="PNG, JPEG or WebP; select several at once.",
        widget=MultipleFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if selectors.pool_name_taken(name=name):
            raise forms.ValidationError(f'A pool named "{name}" already exists; choose another name.')
        return name

    def clean_archive(self):
        archive = self.cleaned_data.get("archive")
        if archive and (PurePath(archive.name).suffix.lower() != ".zip" or not zipfile.is_zipfile(archive)):
            raise forms.ValidationError(f"{archive.name}: not a zip file.")
        if archive:
            self._check_zip_listing(archive)
        return archive

    def _check_zip_listing(self, archive) -> None:
        # The import would refuse a zip over these limits; say so now instead of storing it first.
        try:
            imaging.check_zip_limits(archive, name=archive.name, max_files=settings.EVALSITE_MAX_IMPORT_FILES,
                                     max_bytes=settings.EVALSITE_MAX_IMPORT_BYTES)
        except imaging.BadSource as error:
            raise forms.ValidationError(f"{error}.") from None
        finally:
            archive.seek(0)

    def clean(self):
        cleaned = super().clean()
        archive, images = cleaned.get("archive"), cleaned.get("images") or []
        if bool(archive) == bool(images) and not self.errors:
            raise forms.ValidationError("Choose either one zip file or some image files.")
        self._check_upload_size([archive] if archive else images)
        return cleaned

    def _check_upload_size(self, files) -> None:
        limit = settings.EVALSITE_MAX_UPLOAD_BYTES
        if sum(f.size for f in files) > limit:
            raise forms.ValidationError(f"The upload exceeds the limit of {filesizeformat(limit)}.")


# --- training runs and the pools sampled from them ------------------------------------------------

FAMILY_CHOICES = [
    ("dcgan", "DCGAN"),
    ("progressive", "Multi-stage GAN (progressive growing)"),
    ("srcnn", "SRCNN (super-resolution, for DCGAN+SRCNN)"),
    ("crn", "CRN (cascaded refinement: layout → photo)"),
    ("simgan", "SimGAN (synthetic → real refinement)"),
]
BLANK_IS_DEFAULT = "Blank: the model's default (see the table below)."


def bundled_dataset_choices() -> list[tuple[str, str]]:
    from generation.datasets import BUNDLED

    return [(f"bundled:{name}", f"bundled:{name} — {spec.description[:90]}") for name, spec in BUNDLED.items()]


class BetasField(forms.CharField):
    """Adam betas typed as "0.5, 0.999"."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            first, second = (float(part) for part in value.split(","))
        except ValueError:
            raise forms.ValidationError("Two numbers separated by a comma, e.g. 0.5, 0.999.") from None
        if not (0 <= first < 1 and 0 <= second < 1):
            raise forms.ValidationError("Each beta must be at least 0 and below 1.")
        return [first, second]


class TrainingRunForm(forms.Form):
    """Every field but the model is optional: blank keeps that family's default."""

    family = forms.ChoiceField(choices=FAMILY_CHOICES, label="Model")
    name = forms.CharField(max_length=200, required=False, help_text="Blank: “model on dataset”, e.g. “dcgan on photos”.")
    dataset = forms.ChoiceField(required=False, help_text=BLANK_IS_DEFAULT)
    dataset_folder = forms.CharField(
        max_length=500, required=False, label="… or a folder on the worker",
        help_text="An image folder; for CRN layouts/ + photos/ or Cityscapes; for SimGAN synthetic/ + real/.",
    )
    size = forms.IntegerField(required=False, min_value=8, max_value=1024, help_text="Output size in pixels.")
    iterations = forms.IntegerField(required=False, min_value=1, help_text=BLANK_IS_DEFAULT)
    batch_size = forms.IntegerField(required=False, min_value=1, max_value=4096)
    loss = forms.ChoiceField(
        required=False, choices=[("", "default"), ("gan", "gan (non-saturating)"), ("wgan-gp", "wgan-gp (λ = 10)")]
    )
    d_steps_per_g = forms.IntegerField(
        required=False, min_value=1, max_value=100, label="D steps per G step", help_text="e.g. 5 for 1:5."
    )
    lr_g = forms.FloatField(required=False, min_value=0, label="Learning rate (G)")
    lr_d = forms.FloatField(required=False, min_value=0, label="Learning rate (D)")
    betas_g = BetasField(required=False, label="Adam betas (G)", help_text="e.g. 0.5, 0.999")
    betas_d = BetasField(required=False, label="Adam betas (D)")
    width = forms.FloatField(required=False, min_value=0.01, max_value=8, help_text="Channel-width multiplier.")
    seed = forms.IntegerField(required=False, min_value=0)
    checkpoint_every = forms.IntegerField(required=False, min_value=1, help_text="Iterations between checkpoints.")

    OPTION_FIELDS = ("size", "iterations", "batch_size", "loss", "d_steps_per_g", "lr_g", "lr_d",
                     "betas_g", "betas_d", "seed", "checkpoint_every")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "default for the model"), *bundled_dataset_choices()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("dataset") and cleaned.get("dataset_folder"):
            raise forms.ValidationError("Choose a bundled dataset or a folder, not both.")
        return cleaned

    def training_options(self) -> dict:
        """The overrides for ``training_run_create``: only what the researcher filled in."""
        data = self.cleaned_data
        options = {key: data[key] for key in self.OPTION_FIELDS if data.get(key) not in (None, "")}
        if dataset := data.get("dataset_folder") or data.get("dataset"):
            options["dataset"] = dataset
        if data.get("width") is not None:
            options["arch"] = {"width": data["width"]}
        return options


class GeneratePoolForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Blank: “run name @ iteration it”.")
    images = forms.IntegerField(min_value=1, max_value=100_000, initial=100)
    which = forms.ChoiceField(
        choices=[("latest", "the latest checkpoint"), ("iteration", "at an iteration"), ("hours", "at a training time"),
                 ("checkpoint", "a checkpoint")],
        initial="latest", widget=forms.RadioSelect, label="Sample from",
    )
    at_iteration = forms.IntegerField(required=False, min_value=0, help_text="The latest checkpoint at or before it.")
    at_hours = forms.FloatField(required=False, min_value=0, help_text="The latest checkpoint within this training time.")
    checkpoint = forms.ModelChoiceField(queryset=None, required=False)
    srcnn_run = forms.ModelChoiceField(
        queryset=None, required=False, label="Super-resolve with",
        help_text="An SRCNN run: the pool is DCGAN+SRCNN (its training time counts both runs).",
    )
    seed = forms.IntegerField(min_value=0, initial=0, help_text="Image i is sampled with seed S + i.")

    def __init__(self, *args, run, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["checkpoint"].queryset = run.checkpoints.order_by("iteration")
        self.fields["checkpoint"].label_from_instance = lambda c: f"iteration {c.iteration} ({c.training_hours:.3g} h)"
        # Only the researcher's own runs: another's run id posted here is refused as an invalid choice.
        own_runs = selectors.runs_with_checkpoints_for_researcher(user=user)
        self.fields["srcnn_run"].queryset = own_runs.filter(family="srcnn")
        if run.family == "srcnn":
            del self.fields["srcnn_run"]

    def clean(self):
        cleaned = super().clean()
        needed = {"iteration": "at_iteration", "hours": "at_hours", "checkpoint": "checkpoint"}.get(cleaned.get("which"))
        if needed and cleaned.get(needed) in (None, ""):
            self.add_error(needed, "Fill this in for the choice above.")
        return cleaned

    def plan_arguments(self) -> dict:
        which = self.cleaned_data["which"]
        return {
            "at_iteration": self.cleaned_data["at_iteration"] if which == "iteration" else None,
            "at_hours": self.cleaned_data["at_hours"] if which == "hours" else None,
            "checkpoint": self.cleaned_data["checkpoint"] if which == "checkpoint" else None,
            "srcnn_run": self.cleaned_data.get("srcnn_run"),
        }


MATCHED_ROWS = 4


class MatchedBudgetForm(forms.Form):
    """Up to four (run, optional SRCNN run) rows, matched at equal iterations or equal training time."""

    by = forms.ChoiceField(choices=[("iterations", "equal iterations"), ("hours", "equal training time")],
                           widget=forms.RadioSelect, initial="iterations")
    at = forms.FloatField(required=False, min_value=0, label="Budget",
                          help_text="Iterations, or hours. Blank: the largest that every run has reached.")
    images = forms.IntegerField(min_value=1, max_value=100_000, initial=100, help_text="Images per pool.")
    seed = forms.IntegerField(min_value=0, initial=0)
    prefix = forms.CharField(max_length=100, required=False, help_text="Prefix for the pools' names.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        with_checkpoints = selectors.runs_with_checkpoints_for_researcher(user=user)
        for row in range(MATCHED_ROWS):
            self.fields[f"run_{row}"] = forms.ModelChoiceField(
                queryset=with_checkpoints.exclude(family="srcnn"), required=False, label=f"Run {row + 1}"
            )
            self.fields[f"srcnn_{row}"] = forms.ModelChoiceField(
                queryset=with_checkpoints.filter(family="srcnn"), required=False, label="super-resolved by"
            )

    def rows(self):
        return [(self[f"run_{row}"], self[f"srcnn_{row}"]) for row in range(MATCHED_ROWS)]

    def entries(self) -> list:
        data = self.cleaned_data
        return [(data[f"run_{row}"], data[f"srcnn_{row}"]) for row in range(MATCHED_ROWS) if data.get(f"run_{row}")]

    def clean(self):
        cleaned = super().clean()
        for row in range(MATCHED_ROWS):
            if cleaned.get(f"srcnn_{row}") and not cleaned.get(f"run_{row}"):
                self.add_error(f"run_{row}", "Choose the run the SRCNN run super-resolves.")
        if len(self.entries()) < 2 and not self.errors:
            raise forms.ValidationError("Choose at least two runs.")
        return cleaned

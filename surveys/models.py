"""Surveys, their arms, participants, trials and responses."""
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from generation.models import ImagePool, PoolImage

from .protocol import Protocol

DEFAULT_QUESTION = {
    "en": "Which image looks more realistic?",
    "ja": "どちらの画像がより本物らしく見えますか？",
}
DEFAULT_REAL_FAKE_QUESTION = {
    "en": "Is this image real or generated?",
    "ja": "この画像は本物ですか、それとも生成されたものですか？",
}


SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def new_slug() -> str:
    # Letters and digits only: a slug never starts with "-", so it passes as a command-line argument.
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(12))


def new_token() -> str:
    return secrets.token_urlsafe(24)


COMPLETION_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
COMPLETION_CODE_LENGTH = 13  # 13 symbols of 32: 65 bits, so that no one guesses a code paid for by someone else


def new_completion_code() -> str:
    # Unambiguous upper-case letters and digits, easy to copy into a crowd platform.
    return "".join(secrets.choice(COMPLETION_CODE_ALPHABET) for _ in range(COMPLETION_CODE_LENGTH))


def new_seed() -> int:
    return secrets.randbits(62)


class Survey(models.Model):
    class Kind(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise: which of two images looks more realistic"
        REAL_FAKE = "real_fake", "Real or fake: one image at a time, real or generated?"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200, help_text="Researcher-facing; never shown to participants.")
    slug = models.CharField(max_length=32, unique=True, default=new_slug, editable=False, help_text="Public id in the link.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PAIRWISE)
    question_en = models.CharField(max_length=300, default=DEFAULT_QUESTION["en"])
    question_ja = models.CharField(max_length=300, default=DEFAULT_QUESTION["ja"])
    instructions_en = models.TextField(blank=True, help_text="Shown before the trials; empty uses the built-in text.")
    instructions_ja = models.TextField(blank=True, help_text="Shown before the trials; empty uses the built-in text.")
    consent_en = models.TextField(blank=True, help_text="Consent text; empty uses the built-in text.")
    consent_ja = models.TextField(blank=True, help_text="Consent text; empty uses the built-in text.")
    trials_per_participant = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(2000)],
        help_text="Main trials, not counting training, qualification, practice or attention checks.",
    )
    preset = models.CharField(max_length=40, blank=True, help_text="The preset the protocol started from (a label only).")
    protocol = models.JSONField(default=dict, blank=True, help_text="surveys.protocol.Protocol as JSON.")
    prolific_completion_code = models.CharField(
        max_length=40, blank=True, help_text="The completion code Prolific gave this study; Prolific links end there."
    )
    prolific_screened_out_code = models.CharField(
        max_length=40, blank=True, help_text="Prolific's code for participants screened out by the qualification."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    pools = models.ManyToManyField(ImagePool, through="SurveyArm", related_name="surveys")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def get_protocol(self) -> Protocol:
        return Protocol.from_json(self.protocol)

    def text_for(self, field: str, language: str) -> str:
        """The researcher's text in the participant's language, falling back to English."""
        value = getattr(self, f"{field}_{'ja' if language == 'ja' else 'en'}", "")
        return value or getattr(self, f"{field}_en", "")


class SurveyArm(models.Model):
    """One pool taking part in a survey, under the label used in the results table.

    Compared arms are what the survey measures. Attention arms only feed attention checks: the
    obviously bad images, and the real images they are set against when no compared arm is real.
    """

    class Role(models.TextChoices):
        COMPARED = "compared", "Compared"
        ATTENTION_BAD = "attention_bad", "Attention checks: obviously bad images"
        ATTENTION_REAL = "attention_real", "Attention checks: real images"

    survey = models.ForeignKey(Survey, related_name="arms", on_delete=models.CASCADE)
    pool = models.ForeignKey(ImagePool, related_name="arms", on_delete=models.PROTECT)
    label = models.CharField(max_length=200, help_text="Name of the arm in results; defaults to the pool's name.")
    position = models.PositiveSmallIntegerField(default=0)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COMPARED)

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["survey", "pool"], name="survey_arm_unique_pool")]

    def __str__(self):
        return self.label


class Participant(models.Model):
    class Platform(models.TextChoices):
        LAB = "lab", "Plain link"
        PROLIFIC = "prolific", "Prolific"
        MTURK = "mturk", "Amazon Mechanical Turk"

    survey = models.ForeignKey(Survey, related_name="participants", on_delete=models.CASCADE)
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    seed = models.BigIntegerField(default=new_seed, help_text="Seeds this participant's trial order and sides.")
    language = models.CharField(max_length=8, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the participant consented and started.")
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_code = models.CharField(max_length=32, unique=True, default=new_completion_code, editable=False)
    # Crowd identity: one participant per worker id and survey.
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.LAB)
    worker_id = models.CharField(max_length=100, blank=True, help_text="PROLIFIC_PID or MTurk workerId.")
    study_id = models.CharField(max_length=100, blank=True, help_text="Prolific STUDY_ID.")
    crowd_session_id = models.CharField(max_length=100, blank=True, help_text="Prolific SESSION_ID.")
    assignment_id = models.CharField(max_length=100, blank=True, help_text="MTurk assignmentId (the latest one).")
    hit_id = models.CharField(max_length=100, blank=True, help_text="MTurk hitId.")
    turk_submit_to = models.CharField(max_length=300, blank=True, help_text="MTurk turkSubmitTo host, checked.")
    client_info = models.JSONField(
        default=dict, blank=True, help_text="Browser check: screen and window size, devicePixelRatio, refresh period and its SD."
    )
    exclusion_reason = models.CharField(max_length=500, blank=True, help_text="Why analysis leaves this participant out.")
    screened_out_at = models.DateTimeField(null=True, blank=True, help_text="Failed the qualification: the session ended there.")
    # Answers come strictly in order, so the answered trials are always the first ``answered_count``: the current
    # trial is one indexed lookup (position = answered_count). Only response_record changes it, in the transaction
    # that stores the answer.
    answered_count = models.PositiveIntegerField(default=0, editable=False, help_text="Trials answered so far.")
    stages = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="Where each stage starts and its size, and the trial count (surveys.stages), written with the trials.",
    )

    class Meta:
        ordering = ["survey", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "platform", "worker_id"], condition=~models.Q(worker_id=""),
                name="participant_one_session_per_worker",
            )
        ]

    def __str__(self):
        return f"participant {self.pk} of {self.survey}"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None

    @property
    def is_excluded(self) -> bool:
        return bool(self.exclusion_reason)

    @property
    def is_finished(self) -> bool:
        """Nothing more to answer: every trial done, or screened out by the qualification."""
        return self.completed_at is not None or self.screened_out_at is not None


class Trial(models.Model):
    """One screen of a participant's sequence.

    Pairwise trials show left and right; real/fake trials show one image, stored as the left one
    (``arm`` and ``image`` name it), with the right side empty.
    """

    class Side(models.TextChoices):
        LEFT = "left", _("left")
        RIGHT = "right", _("right")

    class Phase(models.TextChoices):
        TRAINING = "training", "Training (labelled example)"
        QUALIFICATION = "qualification", "Qualification"
        PRACTICE = "practice", "Practice (with feedback)"
        MAIN = "main", "Main"
        ATTENTION = "attention", "Attention check"

    participant = models.ForeignKey(Participant, related_name="trials", on_delete=models.CASCADE)
    position = models.PositiveIntegerField(help_text="0-based place in the participant's sequence.")
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.MAIN)
    block = models.PositiveSmallIntegerField(default=0, help_text="0-based block of the main phase.")
    exposure_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Planned exposure; empty means unlimited. Adaptive trials get theirs when they become current.",
    )
    expected_choice = models.CharField(
        max_length=10, blank=True, help_text="The correct answer where there is one; empty for a preference."
    )
    left_arm = models.ForeignKey(SurveyArm, related_name="+", on_delete=models.PROTECT)
    right_arm = models.ForeignKey(SurveyArm, related_name="+", on_delete=models.PROTECT, null=True, blank=True)
    left_image = models.ForeignKey(PoolImage, related_name="+", on_delete=models.PROTECT)
    right_image = models.ForeignKey(PoolImage, related_name="+", on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["participant", "position"]
        constraints = [models.UniqueConstraint(fields=["participant", "position"], name="trial_unique_position")]

    def __str__(self):
        return f"trial {self.position + 1} of participant {self.participant_id}"

    def arm_on(self, side: str) -> SurveyArm:
        return self.left_arm if side == self.Side.LEFT else self.right_arm

    @property
    def is_single(self) -> bool:
        return self.right_image_id is None

    @property
    def arm(self) -> SurveyArm:
        return self.left_arm

    @property
    def image(self) -> PoolImage:
        return self.left_image


class Response(models.Model):
    """A participant's answer to one trial. One per trial, enforced by the database."""

    class Choice(models.TextChoices):
        LEFT = "left", _("left")
        RIGHT = "right", _("right")
        REAL = "real", _("real")
        GENERATED = "generated", _("generated")
        SEEN = "seen", _("seen")  # a labelled training example, acknowledged

    trial = models.OneToOneField(Trial, related_name="response", on_delete=models.CASCADE)
    choice = models.CharField(max_length=10, choices=Choice.choices, help_text="The side, or the verdict, chosen.")
    correct = models.BooleanField(null=True, blank=True, help_text="Against the trial's expected choice; empty when none.")
    valid = models.BooleanField(
        default=True, help_text="Timing as planned, no dropped frame, focus kept; invalid trials are kept, flagged."
    )
    invalid_reasons = models.JSONField(default=list, blank=True)
    reaction_time_ms = models.FloatField(null=True, blank=True, help_text="From stimulus onset to the answer, client clock.")
    client_timing = models.JSONField(default=dict, blank=True, help_text="Timing data measured by the browser.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="Server time the answer arrived.")

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.choice} on {self.trial}"

"""What a participant goes through, apart from which pools are compared. Pure Python: no Django.

A survey stores its protocol as JSON (``Survey.protocol``) and its main trial count in
``Survey.trials_per_participant``. A *preset* is a named starting point taken from a published
study; the researcher picks one and may change any field afterwards. The survey remembers the
preset's name only as a label.

Phases, in the order a participant meets them:

1. training: labelled examples ("this one is real"), answered by "continue";
2. qualification: untimed real/generated trials scored against a threshold; failing ends the
   session early ("screened out");
3. practice: trials like the main ones, with feedback after each answer;
4. main: the measured trials, split into blocks, with attention checks mixed in unannounced.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

KINDS = ("pairwise", "real_fake")
PAIRINGS = ("all", "vs_real", "vs_first")
CHOOSE = ("real", "fake")
ATTENTION_SOURCES = ("pool", "blur")

MAX_EXPOSURE_MS = 60_000
MAX_MASKS = 8
MAX_PHASE_TRIALS = 500
MAX_TRIALS = 2000


class ProtocolError(ValueError):
    """A protocol field is out of range or does not fit the survey kind; the message says which."""


@dataclass(frozen=True)
class Staircase:
    """An adaptive exposure per participant (HYPE_time): longer after an error, shorter after a hit.

    Each block starts again at ``start_ms``; the exposure stays within [min_ms, max_ms].
    """

    start_ms: int = 500
    min_ms: int = 100
    max_ms: int = 1000
    step_after_error_ms: int = 10
    step_after_correct_ms: int = 30

    def next_ms(self, current_ms: int, correct: bool) -> int:
        step = -self.step_after_correct_ms if correct else self.step_after_error_ms
        return min(self.max_ms, max(self.min_ms, current_ms + step))

    def exposure_after(self, answers_correct: list[bool]) -> int:
        """The exposure of the next trial of a block, given the block's answers so far in order."""
        exposure = self.start_ms
        for correct in answers_correct:
            exposure = self.next_ms(exposure, correct)
        return exposure


@dataclass(frozen=True)
class Protocol:
    # Presentation
    exposures_ms: tuple[int, ...] = ()  # empty: the images stay until the answer (unlimited time)
    mask_count: int = 1  # noise masks shown after a timed exposure
    mask_ms: int | None = None  # each mask's duration; None: the last mask stays until the answer
    countdown_s: int = 0  # a 3-2-1 countdown before each block of main trials
    staircase: Staircase | None = None  # adaptive exposure (real_fake only); replaces exposures_ms
    # Design
    pairs: str = "all"  # pairwise: all pairs of arms, only real vs each generated arm, or the first arm vs each other
    choose: str = "real"  # pairwise: the question asks for the more realistic image, or for the fake one
    real_fraction: float = 0.5  # real_fake: share of main trials that show a real image
    trials_per_cell: int | None = None  # when set, main trials = cells (comparisons x exposures) x this
    blocks: int = 1
    feedback: bool = False  # "correct" / "wrong" after each main trial
    # Phases before the main trials
    training_examples: int = 0
    qualification_trials: int = 0
    qualification_min_accuracy: float = 0.65  # required on real images and on generated images alike
    practice_trials: int = 0
    # Attention checks, mixed into the main trials
    attention_checks: int = 0
    attention_source: str = "pool"  # a pool marked obviously bad, or heavily blurred real images
    attention_exposure_ms: int | None = None  # None: the survey's longest exposure (unlimited when untimed)
    max_attention_failures: int = 0  # a participant failing more than this many checks is excluded

    @property
    def timed(self) -> bool:
        return bool(self.exposures_ms) or self.staircase is not None

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["exposures_ms"] = list(self.exposures_ms)
        return data

    @classmethod
    def from_json(cls, data: dict | None) -> Protocol:
        """A protocol from stored or submitted JSON; unknown keys are refused, missing ones take defaults."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProtocolError(f"Unknown protocol fields: {', '.join(unknown)}.")
        if data.get("exposures_ms") is not None:
            data["exposures_ms"] = tuple(_whole(value, "exposures_ms") for value in data["exposures_ms"])
        if isinstance(data.get("staircase"), dict):
            try:
                data["staircase"] = Staircase(**data["staircase"])
            except TypeError as error:
                raise ProtocolError(f"staircase: {error}") from None
        return cls(**data)

    def replace(self, **changes) -> Protocol:
        return dataclasses.replace(self, **changes)

    def validate(self, kind: str, trials: int) -> None:
        """Raise ProtocolError unless this protocol can run a survey of ``kind`` with ``trials`` main trials."""
        if kind not in KINDS:
            raise ProtocolError(f"kind must be one of {', '.join(KINDS)}.")
        if not 1 <= trials <= MAX_TRIALS:
            raise ProtocolError(f"A survey has 1 to {MAX_TRIALS} main trials.")
        exposures = list(self.exposures_ms)
        if any(not 1 <= value <= MAX_EXPOSURE_MS for value in exposures):
            raise ProtocolError(f"Exposures are whole milliseconds from 1 to {MAX_EXPOSURE_MS}.")
        if len(set(exposures)) != len(exposures):
            raise ProtocolError("Each exposure may be listed only once.")
        if not 0 <= self.mask_count <= MAX_MASKS:
            raise ProtocolError(f"mask_count is 0 to {MAX_MASKS}.")
        if self.mask_ms is not None and not 1 <= self.mask_ms <= MAX_EXPOSURE_MS:
            raise ProtocolError("mask_ms is empty (the last mask stays) or 1 ms or more.")
        if not 0 <= self.countdown_s <= 10:
            raise ProtocolError("countdown_s is 0 to 10 seconds.")
        if self.pairs not in PAIRINGS:
            raise ProtocolError(f"pairs must be one of {', '.join(PAIRINGS)}.")
        if self.choose not in CHOOSE:
            raise ProtocolError(f"choose must be one of {', '.join(CHOOSE)}.")
        if not 0 < self.real_fraction < 1:
            raise ProtocolError("real_fraction is between 0 and 1 (0.5: half real, half generated).")
        if self.trials_per_cell is not None and not 1 <= self.trials_per_cell <= 100:
            raise ProtocolError("trials_per_cell is empty or 1 to 100.")
        if not 1 <= self.blocks <= trials:
            raise ProtocolError("blocks is 1 or more, and at most the number of main trials.")
        for name in ("training_examples", "qualification_trials", "practice_trials", "attention_checks"):
            if not 0 <= getattr(self, name) <= MAX_PHASE_TRIALS:
                raise ProtocolError(f"{name} is 0 to {MAX_PHASE_TRIALS}.")
        if not 0 < self.qualification_min_accuracy <= 1:
            raise ProtocolError("qualification_min_accuracy is above 0 and at most 1.")
        if self.attention_source not in ATTENTION_SOURCES:
            raise ProtocolError(f"attention_source must be one of {', '.join(ATTENTION_SOURCES)}.")
        if self.attention_exposure_ms is not None and not 1 <= self.attention_exposure_ms <= MAX_EXPOSURE_MS:
            raise ProtocolError(f"attention_exposure_ms is empty or 1 to {MAX_EXPOSURE_MS}.")
        if self.max_attention_failures < 0:
            raise ProtocolError("max_attention_failures is 0 or more.")
        self._validate_for_kind(kind)

    def _validate_for_kind(self, kind: str) -> None:
        if self.staircase is not None:
            if kind != "real_fake":
                raise ProtocolError("An adaptive exposure (staircase) needs the real_fake kind.")
            if self.exposures_ms:
                raise ProtocolError("Give either fixed exposures or a staircase, not both.")
            stairs = self.staircase
            if not 1 <= stairs.min_ms <= stairs.start_ms <= stairs.max_ms <= MAX_EXPOSURE_MS:
                raise ProtocolError("The staircase needs 1 <= min_ms <= start_ms <= max_ms.")
            if stairs.step_after_error_ms < 0 or stairs.step_after_correct_ms < 0:
                raise ProtocolError("Staircase steps are 0 ms or more.")
        if self.qualification_trials and kind != "real_fake":
            raise ProtocolError("A qualification phase needs the real_fake kind (it is scored on real and generated images).")
        if self.training_examples and kind != "real_fake":
            raise ProtocolError("Labelled training examples need the real_fake kind.")

    def attention_exposure(self) -> int | None:
        """The exposure of attention checks: as set, else the longest exposure, else unlimited."""
        if self.attention_exposure_ms is not None:
            return self.attention_exposure_ms
        if self.staircase is not None:
            return self.staircase.max_ms
        return max(self.exposures_ms) if self.exposures_ms else None


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ProtocolError(f"{name}: {value!r} is not a whole number of milliseconds.")
    try:
        number = float(value)
    except ValueError:
        raise ProtocolError(f"{name}: {value!r} is not a whole number of milliseconds.") from None
    if not number.is_integer():
        raise ProtocolError(f"{name}: {value!r} is not a whole number of milliseconds.")
    return int(number)


@dataclass(frozen=True)
class Preset:
    """A published study's design as a starting point: kind, main trials, question and protocol."""

    name: str
    title: str
    source: str
    kind: str
    trials: int
    question_en: str
    question_ja: str
    protocol: Protocol = field(default_factory=Protocol)


CRN_EXPOSURES = (125, 250, 500, 1000, 2000, 4000, 8000)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset(
            "questionnaire", "Questionnaire: pick the best-generated image",
            "The DCGAN-family questionnaire: pairs, unlimited time, 8 trials with a (3/8) counter.",
            "pairwise", 8,
            "Click or tap the image that looks best generated.",
            "最もよく生成されていると思う画像をクリックまたはタップしてください。",
        ),
        Preset(
            "crn-unlimited", "CRN: which is more realistic, unlimited time",
            "Cascaded Refinement Networks' AMT study: 100 pairs, unlimited time, 10 sentinel pairs "
            "(a real image against an obviously bad one).",
            "pairwise", 100,
            "Which image is more realistic?",
            "どちらの画像がより本物らしいですか？",
            Protocol(attention_checks=10, max_attention_failures=1),
        ),
        Preset(
            "crn-timed", "CRN: which is more realistic, timed exposures",
            "CRN's timed study: each pair shown for 125 ms to 8 s, then masked; every comparison at every "
            "exposure 5 times; 5 catch pairs at 4 s.",
            "pairwise", 35,
            "Which image was more realistic?",
            "どちらの画像がより本物らしかったですか？",
            Protocol(exposures_ms=CRN_EXPOSURES, trials_per_cell=5, attention_checks=5, attention_exposure_ms=4000,
                     max_attention_failures=1),
        ),
        Preset(
            "pix2pix", "pix2pix: which is fake, 1 s",
            "pix2pix's AMT perceptual study: a real and a generated image side by side for 1 s, unlimited time "
            "to answer; 10 practice trials with feedback, then 40 without.",
            "pairwise", 40,
            "Which image is fake?",
            "どちらの画像が偽物ですか？",
            Protocol(exposures_ms=(1000,), pairs="vs_real", choose="fake", practice_trials=10),
        ),
        Preset(
            "simgan-vtt", "SimGAN: visual Turing test",
            "SimGAN's visual Turing test: 20 labelled examples first, then 50 real and 50 refined images, "
            "one at a time, real or not, no feedback.",
            "real_fake", 100,
            "Is this image real or generated?",
            "この画像は本物ですか、それとも生成されたものですか？",
            Protocol(training_examples=20),
        ),
        Preset(
            "hype-infinity", "HYPE∞: real or fake, untimed",
            "HYPE∞: single images, half real and half generated, 100 untimed; scored as the error rate.",
            "real_fake", 100,
            "Is this image real or fake?",
            "この画像は本物ですか、それとも偽物ですか？",
        ),
        Preset(
            "hype-time", "HYPE_time: real or fake, adaptive exposure",
            "HYPE_time: single images with a per-participant adaptive exposure (start 500 ms, 100 to 1000 ms, "
            "+10 ms after an error, -30 ms after a correct answer), 3 blocks of 150 after a 3-2-1 countdown, "
            "4 noise masks of 30 ms, feedback after every trial. Set qualification_trials to 100 for the "
            "optional untimed qualification (65 % on real and on generated images).",
            "real_fake", 450,
            "Is this image real or fake?",
            "この画像は本物ですか、それとも偽物ですか？",
            Protocol(staircase=Staircase(), blocks=3, countdown_s=3, mask_count=4, mask_ms=30, feedback=True),
        ),
    ]
}

DEFAULT_PRESET = "questionnaire"


def preset_protocol(name: str, **changes) -> Protocol:
    """A preset's protocol with the researcher's changes applied."""
    try:
        return PRESETS[name].protocol.replace(**changes)
    except KeyError:
        raise ProtocolError(f"No preset named {name!r}; choose one of {', '.join(PRESETS)}.") from None

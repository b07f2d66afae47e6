"""What the trial runner in the browser (surveys/static/surveys/runner.js) is told, and whether a device may run it.

A trial *spec* describes one trial without anything that tells where its images come from: the
images are opaque URLs, attention checks are ``stage: "test"`` like every main trial, and nothing
in a spec depends on which image is real. The truth reaches the page only as a training example's
label, and as the feedback the answer endpoint returns *after* an answer.

The device check is decided here too, so that the rule and its wording live in one place: the
browser measures, the server says yes or no, and why, in the participant's language.
"""
from __future__ import annotations

from django.db.models import Max
from django.urls import reverse
from django.utils.translation import gettext as _

from generation.models import PoolImage

from . import services
from .models import Participant, Survey, Trial
from .protocol import Protocol
from .selectors import participant_stage_counts
from .stages import STAGE_OF_PHASE, StageCounts

LOOKAHEAD = 5  # specs sent after the current one, so the runner can decode their images in advance

# Device limits for timed surveys (docs/participant-protocol.md, "Presentation").
MIN_FRAME_MS = 5.0
MAX_FRAME_MS = 21.0
MAX_FRAME_SD_MS = 2.0
# Stimuli are drawn at most this wide (CSS px) and must get at least min(natural width, this) on screen.
MAX_STIMULUS_PX = 512
MIN_STIMULUS_PX = 256


def runner_state(participant: Participant) -> dict:
    """``GET trials/``: the survey's presentation settings, and the specs of the current trial and the next few."""
    survey = participant.survey
    protocol = survey.get_protocol()
    return {
        "kind": survey.kind,
        "timed": protocol.timed,
        "choose": protocol.choose,
        "mask_count": protocol.mask_count,
        "mask_ms": protocol.mask_ms,
        "countdown_s": protocol.countdown_s,
        "total": participant_stage_counts(participant=participant).total,
        "finished": participant.is_finished,
        "done_url": reverse("surveys:done", kwargs={"slug": survey.slug}),
        "trials": upcoming_specs(participant, protocol),
    }


def upcoming_specs(participant: Participant, protocol: Protocol | None = None) -> list[dict]:
    """Specs of the current trial and the next LOOKAHEAD ones; empty once nothing is left to answer."""
    if participant.is_finished:
        return []
    protocol = protocol or participant.survey.get_protocol()
    # Answers come in order: the current trial is the one at answered_count, the next ones follow it.
    upcoming = (
        participant.trials.filter(position__gte=participant.answered_count)
        .select_related("left_image", "right_image", "left_arm__pool")
        .order_by("position")[: LOOKAHEAD + 1]
    )
    counts = participant_stage_counts(participant=participant)
    specs = []
    for trial in upcoming:
        trial.participant = participant
        specs.append(trial_spec(trial, protocol, counts, current=trial.position == participant.answered_count))
    return specs


def trial_spec(trial: Trial, protocol: Protocol, counts: StageCounts, *, current: bool) -> dict:
    stage = STAGE_OF_PHASE[trial.phase]
    adaptive = _adaptive(trial, stage, protocol)
    return {
        "position": trial.position,
        "stage": stage,
        "block": trial.block if stage == "test" else None,
        "number": trial.position - counts.first[stage] + 1,
        "of": counts.size[stage],
        "images": _image_urls(trial),
        "exposure_ms": _exposure_ms(trial, adaptive, current),
        "adaptive": adaptive,
        "label": _label(trial) if stage == "training" else None,
        "feedback": stage == "practice" or (stage == "test" and protocol.feedback),
        "countdown": stage == "test" and protocol.countdown_s > 0 and trial.position in counts.block_starts,
    }


def _adaptive(trial: Trial, stage: str, protocol: Protocol) -> bool:
    # In a staircase survey every test trial is announced as adaptive, attention checks included,
    # whose exposure is fixed: a fixed exposure in a spec would single them out.
    if protocol.staircase is None:
        return False
    return stage == "test" or (stage == "practice" and trial.exposure_ms is None)


def _exposure_ms(trial: Trial, adaptive: bool, current: bool) -> int | None:
    if not adaptive:
        return trial.exposure_ms
    # The staircase decides an adaptive exposure only once every earlier answer is in.
    return services.trial_exposure_ms(trial=trial) if current else None


def _image_urls(trial: Trial) -> list[str]:
    images = [trial.left_image] + ([trial.right_image] if trial.right_image_id else [])
    slug = trial.participant.survey.slug  # upcoming_specs sets trial.participant, whose survey is loaded with it
    return [reverse("surveys:image", kwargs={"slug": slug, "public_id": image.public_id}) for image in images]


def _label(trial: Trial) -> str:
    return "real" if trial.left_arm.pool.kind == "real" else "generated"


# --- The device check -------------------------------------------------------------------------


def stimulus_size(survey: Survey) -> tuple[int, int]:
    """The box every stimulus of the survey is drawn in: its images' largest width and height, in pixels."""
    largest = PoolImage.objects.filter(pool__arms__survey=survey).aggregate(width=Max("width"), height=Max("height"))
    return (largest["width"] or 1, largest["height"] or 1)


def minimum_stimulus_px(survey: Survey) -> int:
    """The narrowest an image may be drawn (CSS px) in a timed survey: its natural width, or MIN_STIMULUS_PX."""
    return min(stimulus_size(survey)[0], MIN_STIMULUS_PX)


def device_problems(info: dict, *, survey: Survey) -> list[dict]:
    """Why this browser cannot run the survey's timed trials; empty when it can (or the survey is untimed).

    ``info`` is what runner.js measured: ``frame_ms`` and ``frame_sd_ms`` (120 rAF intervals),
    ``stimulus_px`` (the width one image gets on screen, CSS px) and ``stimulus_fits`` (the images
    and answer buttons lie wholly inside the window).
    """
    if not survey.get_protocol().timed:
        return []
    problems = []
    frame_ms, frame_sd = _number(info.get("frame_ms")), _number(info.get("frame_sd_ms"))
    if frame_ms is None or not MIN_FRAME_MS <= frame_ms <= MAX_FRAME_MS:
        problems.append(_problem("refresh", _(
            "Your screen refreshes every %(frame).1f ms (%(hz).0f Hz). This study needs a screen that refreshes "
            "every %(low).0f to %(high).0f ms (%(low_hz).0f to %(high_hz).0f Hz)."
        ) % {"frame": frame_ms or 0, "hz": 1000 / frame_ms if frame_ms else 0, "low": MIN_FRAME_MS,
             "high": MAX_FRAME_MS, "low_hz": 1000 / MAX_FRAME_MS, "high_hz": 1000 / MIN_FRAME_MS}))
    elif frame_sd is None or frame_sd > MAX_FRAME_SD_MS:
        problems.append(_problem("irregular", _(
            "Your screen's frames come irregularly (they vary by %(sd).1f ms; at most %(limit).0f ms is allowed). "
            "Close other programs and tabs, plug in a laptop, then check again."
        ) % {"sd": frame_sd or 0, "limit": MAX_FRAME_SD_MS}))
    shown, needed = _number(info.get("stimulus_px")), minimum_stimulus_px(survey)
    if shown is None or shown + 0.5 < needed or info.get("stimulus_fits") is not True:
        problems.append(_problem("window", _(
            "Your window is too small to show the images at their size: each image gets %(shown).0f pixels "
            "and needs %(needed)d, with the answer buttons in view. Enlarge the window (or turn your phone "
            "sideways), then check again."
        ) % {"shown": shown or 0, "needed": needed}))
    return problems


def _problem(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None

"""Survey workflows: design a survey, open and close it, start participants, record answers.

The participant protocol these follow is docs/participant-protocol.md.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.models import ImagePool

from . import selectors, timing
from .attention import blurred_pool
from .design import PlanArm, main_trial_count, survey_plan
from .models import DEFAULT_REAL_FAKE_QUESTION, Participant, Response, Survey, SurveyArm, Trial, new_seed
from .protocol import PRESETS, Preset, Protocol, ProtocolError
from .selectors import participant_stage_counts
from .stages import StageCounts

MAX_CLIENT_TIMING_KEYS = 50
MAX_CLIENT_TIMING_BYTES = 64 * 1024
MAX_CLIENT_INFO_KEYS = 50
MAX_CLIENT_INFO_BYTES = 16 * 1024
MAX_REACTION_TIME_MS = 24 * 3600 * 1000
DEFAULT_TRIALS = 8
IDENTITY_FIELDS = ("platform", "worker_id", "study_id", "crowd_session_id", "assignment_id", "hit_id", "turk_submit_to")
TEST_PHASES = (Trial.Phase.MAIN, Trial.Phase.ATTENTION)


class SurveyError(Exception):
    """A survey workflow refused: the message is meant for the person who asked."""


class SurveyNotOpen(SurveyError):
    pass


class TrialNotCurrent(SurveyError):
    """An answer to a trial that is not the participant's current one (or after the session ended)."""


class AnswerConflict(SurveyError):
    """A second, different answer to a trial that already has one."""


class BadAnswer(SurveyError):
    """An answer whose fields are malformed, or that does not fit the trial."""


# --- Creating a survey --------------------------------------------------------------------------


@dataclass(frozen=True)
class _AttentionPools:
    bad: ImagePool | None = None  # None with blur_source set: the blurred pool is still to be made
    real: ImagePool | None = None  # the good side of pairwise checks when no compared arm is real
    blur_source: ImagePool | None = None


def survey_create(
    *,
    name: str,
    pools: Sequence[ImagePool],
    kind: str | None = None,
    trials_per_participant: int | None = None,
    preset: str = "",
    protocol: Protocol | dict | None = None,
    attention_bad_pool: ImagePool | None = None,
    attention_real_pool: ImagePool | None = None,
    created_by=None,
    labels: Sequence[str] | None = None,
    prolific_completion_code: str = "",
    prolific_screened_out_code: str = "",
    **texts: str,
) -> Survey:
    """A draft survey comparing ``pools``; ``texts`` sets question_en, consent_ja and so on.

    ``kind``, the main trial count, the protocol and the question default to the preset's (or to a
    pairwise survey of 8 trials with the default protocol). With ``trials_per_cell`` the main trial
    count is cells x trials_per_cell, whatever ``trials_per_participant`` says.
    """
    chosen = _preset(preset)
    kind = kind or (chosen.kind if chosen else Survey.Kind.PAIRWISE)
    protocol = _protocol(protocol, chosen)
    _check_arms(kind, pools, labels)
    trials = _main_trials(kind, protocol, pools, trials_per_participant, chosen)
    _validate_protocol(protocol, kind, trials)
    attention = _attention_pools(kind, protocol, pools, attention_bad_pool, attention_real_pool)
    if attention.blur_source is not None:
        # Made before the transaction below: pool_import must not run inside one that may roll back.
        attention = _AttentionPools(blurred_pool(source=attention.blur_source, created_by=created_by), attention.real)
    fields = {
        **_default_questions(kind, chosen), **texts,
        "name": name, "kind": kind, "trials_per_participant": trials, "preset": preset,
        "protocol": protocol.to_json(), "created_by": created_by,
        "prolific_completion_code": prolific_completion_code, "prolific_screened_out_code": prolific_screened_out_code,
    }
    with transaction.atomic():
        survey = Survey(**fields)
        survey.full_clean()
        survey.save()
        _create_arms(survey, pools, labels, attention)
        _check_plan(survey)
    return survey


def _preset(name: str) -> Preset | None:
    if not name:
        return None
    if name not in PRESETS:
        raise SurveyError(f"No preset named {name!r}; choose one of {', '.join(PRESETS)}.")
    return PRESETS[name]


def _protocol(protocol: Protocol | dict | None, preset: Preset | None) -> Protocol:
    if isinstance(protocol, Protocol):
        return protocol
    if protocol is not None:
        try:
            return Protocol.from_json(protocol)
        except (ProtocolError, TypeError) as error:
            raise SurveyError(str(error)) from None
    return preset.protocol if preset else Protocol()


def _main_trials(kind: str, protocol: Protocol, pools, requested: int | None, preset: Preset | None) -> int:
    arms = [PlanArm(pool.pk, (), real=pool.kind == ImagePool.Kind.REAL) for pool in pools]
    try:
        from_cells = main_trial_count(protocol=protocol, kind=kind, arms=arms)
    except ValueError as error:
        raise SurveyError(str(error)) from None
    if from_cells is not None:
        return from_cells
    if requested is not None:
        return requested
    return preset.trials if preset else DEFAULT_TRIALS


def _validate_protocol(protocol: Protocol, kind: str, trials: int) -> None:
    try:
        protocol.validate(kind, trials)
    except ProtocolError as error:
        raise SurveyError(str(error)) from None


def _default_questions(kind: str, preset: Preset | None) -> dict[str, str]:
    if preset is not None:
        return {"question_en": preset.question_en, "question_ja": preset.question_ja}
    if kind == Survey.Kind.REAL_FAKE:
        return {"question_en": DEFAULT_REAL_FAKE_QUESTION["en"], "question_ja": DEFAULT_REAL_FAKE_QUESTION["ja"]}
    return {}  # the model's pairwise defaults


def _check_arms(kind: str, pools: Sequence[ImagePool], labels: Sequence[str] | None) -> None:
    if kind == Survey.Kind.PAIRWISE and len(pools) < 2:
        raise SurveyError("A pairwise survey compares at least two pools.")
    if kind == Survey.Kind.REAL_FAKE and not _has_real_and_generated(pools):
        raise SurveyError("A real/fake survey needs at least one real pool and one pool that is not real.")
    if len({pool.pk for pool in pools}) != len(pools):
        raise SurveyError("Each pool can be an arm of a survey only once.")
    if labels is not None and (len(labels) != len(pools) or len(set(labels)) != len(labels)):
        raise SurveyError("Give one distinct label per pool.")
    bad = [pool.name for pool in pools if pool.obviously_bad]
    if bad:
        raise SurveyError(
            f"Pools marked obviously bad are for attention checks only, not for comparing: {', '.join(bad)}."
        )
    _check_not_empty(pools)


def _has_real_and_generated(pools: Sequence[ImagePool]) -> bool:
    kinds = {pool.kind == ImagePool.Kind.REAL for pool in pools}
    return kinds == {True, False}


def _check_not_empty(pools: Sequence[ImagePool]) -> None:
    empty = [pool.name for pool in pools if not pool.images.exists()]
    if empty:
        raise SurveyError(f"These pools have no images: {', '.join(empty)}.")


def _attention_pools(
    kind: str, protocol: Protocol, pools, bad: ImagePool | None, real: ImagePool | None
) -> _AttentionPools:
    """The pools attention checks draw from, checked; nothing when the survey has no checks."""
    if not protocol.attention_checks:
        return _AttentionPools()
    compared_real = next((pool for pool in pools if pool.kind == ImagePool.Kind.REAL), None)
    if real is not None and real.kind != ImagePool.Kind.REAL:
        raise SurveyError(f"The attention checks' real pool {real.name} is not a real pool.")
    if kind == Survey.Kind.PAIRWISE and compared_real is None and real is None:
        raise SurveyError("Pairwise attention checks set a real image against a bad one: "
                          "compare a real pool, or give a real pool for the attention checks.")
    # The good side is a compared real arm where there is one, so a check looks like any real trial.
    real_arm_pool = real if kind == Survey.Kind.PAIRWISE and compared_real is None else None
    if bad is not None:
        _check_bad_pool(bad, pools)
        return _AttentionPools(bad, real_arm_pool)
    if protocol.attention_source == "pool":
        raise SurveyError("Attention checks from a pool need a pool marked obviously bad.")
    return _AttentionPools(None, real_arm_pool, blur_source=compared_real or real)


def _check_bad_pool(bad: ImagePool, pools) -> None:
    if not bad.obviously_bad:
        raise SurveyError(f"The attention checks' bad pool {bad.name} is not marked obviously bad.")
    if bad.pk in {pool.pk for pool in pools}:
        raise SurveyError(f"The pool {bad.name} cannot be both compared and used for attention checks.")
    _check_not_empty([bad])


def _create_arms(survey: Survey, pools, labels, attention: _AttentionPools) -> None:
    for position, pool in enumerate(pools):
        label = labels[position] if labels else pool.name
        SurveyArm.objects.create(survey=survey, pool=pool, label=label, position=position)
    extra = [(attention.bad, SurveyArm.Role.ATTENTION_BAD), (attention.real, SurveyArm.Role.ATTENTION_REAL)]
    for offset, (pool, role) in enumerate((pool, role) for pool, role in extra if pool is not None):
        SurveyArm.objects.create(survey=survey, pool=pool, label=pool.name, position=len(pools) + offset, role=role)


def _plan_arms(survey: Survey) -> list[PlanArm]:
    """The survey's arms as the planner takes them, keyed by the SurveyArm itself."""
    return [
        PlanArm(arm, list(arm.pool.images.order_by("id").values_list("id", flat=True)),
                real=arm.pool.kind == ImagePool.Kind.REAL, role=arm.role)
        for arm in survey.arms.select_related("pool").order_by("position", "id")
    ]


def _plan(survey: Survey, seed: int, arms: list[PlanArm] | None = None):
    try:
        return survey_plan(protocol=survey.get_protocol(), kind=survey.kind, trials=survey.trials_per_participant,
                           arms=arms if arms is not None else _plan_arms(survey), seed=seed)
    except ValueError as error:  # ProtocolError included
        raise SurveyError(f"This survey's trials cannot be planned: {error}.") from None


def _check_plan(survey: Survey) -> None:
    _plan(survey, seed=0)


# --- Opening and closing ------------------------------------------------------------------------


def survey_open(*, survey: Survey) -> Survey:
    """Open a draft or closed survey to participants."""
    if survey.status == Survey.Status.OPEN:
        return survey
    compared = [arm.pool for arm in survey.arms.select_related("pool").filter(role=SurveyArm.Role.COMPARED)]
    _check_arms(survey.kind, compared, None)
    _check_plan(survey)
    survey.status = Survey.Status.OPEN
    survey.opened_at = survey.opened_at or timezone.now()
    survey.save(update_fields=["status", "opened_at"])
    return survey


def survey_close(*, survey: Survey) -> Survey:
    """Stop new participants. Those already started may finish, so no one loses work they began."""
    survey.status = Survey.Status.CLOSED
    survey.closed_at = timezone.now()
    survey.save(update_fields=["status", "closed_at"])
    return survey


# --- Participants -------------------------------------------------------------------------------


def participant_start(*, survey: Survey, language: str = "en", user_agent: str = "", **identity: str) -> Participant:
    """A new participant with their whole seeded trial sequence written out.

    ``identity`` takes the crowd fields (platform, worker_id, study_id, crowd_session_id,
    assignment_id, hit_id, turk_submit_to). A second session of the same worker raises the
    database's IntegrityError, after rolling back everything this call wrote.
    """
    unknown = sorted(set(identity) - set(IDENTITY_FIELDS))
    if unknown:
        raise TypeError(f"participant_start() got unknown identity fields: {', '.join(unknown)}")
    if survey.status != Survey.Status.OPEN:
        raise SurveyNotOpen("This survey is not open.")
    arms = _plan_arms(survey)
    seed = new_seed()
    plan = _plan(survey, seed, arms)
    stages = StageCounts.of_trials((planned.phase, planned.block, planned.position) for planned in plan)
    with transaction.atomic():
        participant = Participant.objects.create(
            survey=survey, seed=seed, stages=stages.as_json(), language=language[:8], user_agent=user_agent[:500],
            **_clipped_identity(identity),
        )
        Trial.objects.bulk_create(
            Trial(
                participant=participant, position=planned.position, phase=planned.phase, block=planned.block,
                exposure_ms=planned.exposure_ms, expected_choice=planned.expected_choice,
                left_arm=planned.left_arm, right_arm=planned.right_arm,
                left_image_id=planned.left_image, right_image_id=planned.right_image,
            )
            for planned in plan
        )
    return participant


def _clipped_identity(identity: dict) -> dict:
    platform = identity.get("platform", Participant.Platform.LAB)
    if platform not in Participant.Platform.values:
        raise SurveyError(f"Unknown platform {platform!r}.")
    clipped = {
        name: str(value or "")[: Participant._meta.get_field(name).max_length] for name, value in identity.items()
    }
    return {**clipped, "platform": platform}


def participant_client_info_record(*, participant: Participant, info: dict) -> Participant:
    """Store the browser check (refresh period, window, devicePixelRatio); ``checks`` counts how many were made."""
    _check_json_object(info, "The device check", MAX_CLIENT_INFO_KEYS, MAX_CLIENT_INFO_BYTES)
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        checks = (locked.client_info or {}).get("checks", 0)
        locked.client_info = {**info, "checks": (checks if isinstance(checks, int) else 0) + 1}
        locked.save(update_fields=["client_info"])
    participant.client_info = locked.client_info
    return participant


# --- Trials -------------------------------------------------------------------------------------


def trial_exposure_ms(*, trial: Trial) -> int | None:
    """The trial's planned exposure; for an adaptive (staircase) main trial, decided once it is current.

    The staircase restarts in each block and follows the block's answers in order. Attention checks
    in the block count as steps too: the participant cannot tell them from main trials and answers
    them the same way. The exposure is saved on the trial, so asking again gives the same value.
    """
    if trial.exposure_ms is not None:
        return trial.exposure_ms
    staircase = trial.participant.survey.get_protocol().staircase
    if staircase is None or trial.phase != Trial.Phase.MAIN:
        return None
    if not _is_current(trial.participant, trial):
        return None  # earlier answers of the block are still to come
    answers = selectors.block_answers_before(trial=trial)
    exposure = staircase.exposure_after([bool(correct) for correct in answers])
    # Only the first writer sets it: a concurrent request computed the same value from the same answers.
    Trial.objects.filter(pk=trial.pk, exposure_ms__isnull=True).update(exposure_ms=exposure)
    trial.exposure_ms = Trial.objects.values_list("exposure_ms", flat=True).get(pk=trial.pk)
    return trial.exposure_ms


def trial_feedback(*, trial: Trial) -> bool:
    """Whether the participant is told if the answer was right: always in practice, in the test if the protocol says."""
    if trial.phase == Trial.Phase.PRACTICE:
        return True
    if trial.phase in TEST_PHASES:
        return trial.participant.survey.get_protocol().feedback
    return False


def trial_choices(trial: Trial) -> tuple[str, ...]:
    """The answers a trial takes: "seen" for a training example, a side for a pair, a verdict for one image."""
    if trial.phase == Trial.Phase.TRAINING:
        return (Response.Choice.SEEN,)
    if trial.is_single:
        return (Response.Choice.REAL, Response.Choice.GENERATED)
    return (Response.Choice.LEFT, Response.Choice.RIGHT)


# --- Answers ------------------------------------------------------------------------------------


def response_record(
    *,
    participant: Participant,
    position: int,
    choice: str,
    reaction_time_ms: float | None = None,
    client_timing: dict | None = None,
) -> tuple[Response, bool]:
    """Record the answer to the participant's current trial, exactly once.

    Returns (response, created). Repeating an answer already recorded (a double click, a
    replayed POST) returns the stored one with created False and writes nothing. A different
    answer to an answered trial raises AnswerConflict; an answer to a later trial, or any new
    answer after the qualification screened the participant out, raises TrialNotCurrent.
    ``participant`` is brought up to date: its progress, completion and exclusion as the answer left them.
    """
    _check_answer(choice, reaction_time_ms, client_timing)
    try:
        with transaction.atomic():
            _lock_progress(participant)
            return _record_locked(participant, position, choice, reaction_time_ms, client_timing)
    except IntegrityError:
        # A concurrent request stored this trial's answer first: only where row locks are ignored (SQLite).
        participant.refresh_from_db(fields=PROGRESS_FIELDS)
        stored = Response.objects.select_related("trial").filter(
            trial__participant=participant, trial__position=position).first()
        if stored is None:
            raise
        stored.trial.participant = participant
        return _repeated_answer(stored, choice), False


# What an answer can change on its participant.
PROGRESS_FIELDS = ("answered_count", "completed_at", "screened_out_at", "exclusion_reason")


def _lock_progress(participant: Participant) -> None:
    """Lock the participant's row till the transaction ends, so that two simultaneous answers are decided one after
    the other, and read its progress afresh."""
    fresh = Participant.objects.select_for_update().values(*PROGRESS_FIELDS).get(pk=participant.pk)
    for field, value in fresh.items():
        setattr(participant, field, value)


def _record_locked(participant: Participant, position: int, choice: str, reaction_time_ms, client_timing):
    try:
        trial = Trial.objects.select_related("response").get(participant_id=participant.pk, position=position)
    except Trial.DoesNotExist:
        raise TrialNotCurrent("There is no such trial.") from None
    trial.participant = participant
    existing = getattr(trial, "response", None)
    if existing is not None:
        return _repeated_answer(existing, choice), False
    _check_current(participant, trial)
    response = _create_response(trial, choice, reaction_time_ms, client_timing)
    _after_answer(participant, trial)
    return response, True


def _is_current(participant: Participant, trial: Trial) -> bool:
    return participant.screened_out_at is None and trial.position == participant.answered_count


def _check_current(participant: Participant, trial: Trial) -> None:
    if participant.screened_out_at is not None:
        raise TrialNotCurrent("This session ended after the qualification trials.")
    if not _is_current(participant, trial):
        raise TrialNotCurrent("This is not the current trial.")


def _create_response(trial: Trial, choice: str, reaction_time_ms, client_timing: dict | None) -> Response:
    allowed = trial_choices(trial)
    if choice not in allowed:
        raise BadAnswer(f"This trial takes {' or '.join(allowed)}, not {choice}.")
    planned_ms = trial_exposure_ms(trial=trial)  # an adaptive exposure the runner never asked for is decided now
    _check_planned_exposure(client_timing, planned_ms)
    valid, reasons = timing.trial_validity(client_timing, planned_ms)
    return Response.objects.create(
        trial=trial, choice=choice, reaction_time_ms=reaction_time_ms, client_timing=client_timing or {},
        correct=(choice == trial.expected_choice) if trial.expected_choice else None,
        valid=valid, invalid_reasons=reasons,
    )


def _check_planned_exposure(client_timing: dict | None, planned_ms: int | None) -> None:
    """The log must describe the trial that was planned: a different exposure means the page showed something else.

    A missing log is accepted (a page without JavaScript); timing.trial_validity flags a timed trial without one.
    """
    if not client_timing:
        return
    sent = client_timing.get("planned_ms")
    if planned_ms is None:
        if sent is not None:
            raise BadAnswer(f"This trial has no time limit, but the timing log says {sent!r} ms.")
        return
    if isinstance(sent, bool) or not isinstance(sent, (int, float)) or sent != planned_ms:
        raise BadAnswer(f"This trial was planned for {planned_ms} ms, but the timing log says {sent!r}.")


def _after_answer(participant: Participant, trial: Trial) -> None:
    protocol = participant.survey.get_protocol()
    if trial.phase == Trial.Phase.ATTENTION:
        _exclude_after_attention_failures(participant, protocol)
    if trial.phase == Trial.Phase.QUALIFICATION and selectors.is_last_of_phase(trial=trial):
        _screen_out_below_threshold(participant, protocol)
    participant.answered_count = trial.position + 1
    changed = ["answered_count"]
    last = participant.answered_count >= participant_stage_counts(participant=participant).total
    if participant.screened_out_at is None and last:
        participant.completed_at = timezone.now()
        changed.append("completed_at")
    participant.save(update_fields=changed)


def _exclude_after_attention_failures(participant: Participant, protocol: Protocol) -> None:
    """Past the allowed failures, analysis leaves the participant out; they are not told and carry on."""
    failed, total = selectors.participant_attention_failures(participant=participant)
    allowed = protocol.max_attention_failures
    if failed <= allowed or participant.screened_out_at is not None:
        return
    participant.exclusion_reason = f"failed {failed} of {total} attention checks (more than {allowed} allowed)"
    participant.save(update_fields=["exclusion_reason"])


def _screen_out_below_threshold(participant: Participant, protocol: Protocol) -> None:
    """After the last qualification trial: below the threshold on real or on generated images ends the session."""
    accuracy = selectors.participant_qualification_accuracy(participant=participant)
    needed = protocol.qualification_min_accuracy
    if all(score >= needed for score in accuracy.values() if score is not None):
        return
    participant.screened_out_at = timezone.now()
    participant.exclusion_reason = (
        f"screened out: {_percent(accuracy['real'])} on real, {_percent(accuracy['generated'])} on generated, "
        f"{_percent(needed)} needed on both"
    )
    participant.save(update_fields=["screened_out_at", "exclusion_reason"])


def _percent(share: float | None) -> str:
    return "no images" if share is None else f"{int(100 * share + 0.5)} %"


def _repeated_answer(existing: Response, choice: str) -> Response:
    if existing.choice != choice:
        raise AnswerConflict("This trial was already answered differently.")
    return existing


def _check_answer(choice: str, reaction_time_ms: float | None, client_timing: dict | None) -> None:
    if choice not in Response.Choice.values:
        raise BadAnswer(f"choice must be one of {', '.join(Response.Choice.values)}.")
    if reaction_time_ms is not None and not (
        isinstance(reaction_time_ms, (int, float))
        and math.isfinite(reaction_time_ms)
        and 0 <= reaction_time_ms <= MAX_REACTION_TIME_MS
    ):
        raise BadAnswer("reaction_time_ms must be a finite number of milliseconds, 0 or more.")
    if client_timing is not None:
        _check_json_object(client_timing, "client_timing", MAX_CLIENT_TIMING_KEYS, MAX_CLIENT_TIMING_BYTES)


def _check_json_object(value, what: str, max_keys: int, max_bytes: int) -> None:
    if not isinstance(value, dict) or len(value) > max_keys:
        raise BadAnswer(f"{what} must be an object with at most {max_keys} keys.")
    try:
        dumped = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise BadAnswer(f"{what} must hold JSON values only (finite numbers, text, lists, objects).") from None
    if "\\u0000" in dumped:  # PostgreSQL's jsonb cannot store a NUL character
        raise BadAnswer(f"{what} must not contain NUL characters.")
    size = len(dumped.encode())
    if size > max_bytes:
        raise BadAnswer(f"{what} is {size} bytes; at most {max_bytes} are accepted.")

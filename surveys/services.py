"""Survey workflows: design a survey, open and close it, start participants, record answers."""
from __future__ import annotations

import math
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.models import ImagePool

from .design import pairwise_plan
from .models import Participant, Response, Survey, SurveyArm, Trial
from .selectors import participant_current_trial

MAX_CLIENT_TIMING_KEYS = 50
MAX_REACTION_TIME_MS = 24 * 3600 * 1000


class SurveyError(Exception):
    """A survey workflow refused: the message is meant for the person who asked."""


class SurveyNotOpen(SurveyError):
    pass


class TrialNotCurrent(SurveyError):
    """An answer to a trial that is not the participant's current one."""


class AnswerConflict(SurveyError):
    """A second, different answer to a trial that already has one."""


class BadAnswer(SurveyError):
    """An answer whose fields are malformed."""


def survey_create(
    *,
    name: str,
    pools: Sequence[ImagePool],
    trials_per_participant: int = 8,
    created_by=None,
    labels: Sequence[str] | None = None,
    **texts: str,
) -> Survey:
    """A draft pairwise survey comparing ``pools``; ``texts`` sets question_en, consent_ja and so on."""
    _check_arms(pools, labels)
    with transaction.atomic():
        survey = Survey(name=name, trials_per_participant=trials_per_participant, created_by=created_by, **texts)
        survey.full_clean()
        survey.save()
        for position, pool in enumerate(pools):
            label = labels[position] if labels else pool.name
            SurveyArm.objects.create(survey=survey, pool=pool, label=label, position=position)
    return survey


def _check_arms(pools: Sequence[ImagePool], labels: Sequence[str] | None) -> None:
    if len(pools) < 2:
        raise SurveyError("A pairwise survey compares at least two pools.")
    if len({pool.pk for pool in pools}) != len(pools):
        raise SurveyError("Each pool can be an arm of a survey only once.")
    if labels is not None and (len(labels) != len(pools) or len(set(labels)) != len(labels)):
        raise SurveyError("Give one distinct label per pool.")
    empty = [pool.name for pool in pools if not pool.images.exists()]
    if empty:
        raise SurveyError(f"These pools have no images: {', '.join(empty)}.")


def survey_open(*, survey: Survey) -> Survey:
    """Open a draft or closed survey to participants."""
    if survey.status == Survey.Status.OPEN:
        return survey
    arms = list(survey.arms.select_related("pool"))
    _check_arms([arm.pool for arm in arms], None)
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


def participant_start(*, survey: Survey, language: str = "en", user_agent: str = "") -> Participant:
    """A new participant with their whole seeded trial plan written out."""
    if survey.status != Survey.Status.OPEN:
        raise SurveyNotOpen("This survey is not open.")
    images_by_arm = {
        arm: list(arm.pool.images.order_by("id").values_list("id", flat=True))
        for arm in survey.arms.select_related("pool")
    }
    with transaction.atomic():
        participant = Participant.objects.create(survey=survey, language=language[:8], user_agent=user_agent[:500])
        plan = pairwise_plan(images_by_arm, survey.trials_per_participant, participant.seed)
        Trial.objects.bulk_create(
            Trial(
                participant=participant,
                position=planned.position,
                left_arm=planned.left_arm,
                right_arm=planned.right_arm,
                left_image_id=planned.left_image,
                right_image_id=planned.right_image,
            )
            for planned in plan
        )
    return participant


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
    answer to an answered trial raises AnswerConflict; an answer to a later trial raises
    TrialNotCurrent.
    """
    _check_answer(choice, reaction_time_ms, client_timing)
    with transaction.atomic():
        # Lock the participant so that two simultaneous answers are decided one after the other.
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        trial = participant.trials.filter(position=position).select_related("response").first()
        if trial is None:
            raise TrialNotCurrent("There is no such trial.")
        existing = getattr(trial, "response", None)
        if existing is not None:
            return _repeated_answer(existing, choice), False
        current = participant_current_trial(participant=participant)
        if current is None or current.pk != trial.pk:
            raise TrialNotCurrent("This is not the current trial.")
        try:
            with transaction.atomic():
                response = Response.objects.create(
                    trial=trial, choice=choice, reaction_time_ms=reaction_time_ms, client_timing=client_timing or {}
                )
        except IntegrityError:
            # A concurrent request won the race (the database that ignores row locks, SQLite, gets here).
            return _repeated_answer(Response.objects.get(trial=trial), choice), False
        if position == participant.trials.count() - 1:
            participant.completed_at = timezone.now()
            participant.save(update_fields=["completed_at"])
    return response, True


def _repeated_answer(existing: Response, choice: str) -> Response:
    if existing.choice != choice:
        raise AnswerConflict("This trial was already answered differently.")
    return existing


def _check_answer(choice: str, reaction_time_ms: float | None, client_timing: dict | None) -> None:
    if choice not in Trial.Side.values:
        raise BadAnswer(f"choice must be one of {', '.join(Trial.Side.values)}.")
    if reaction_time_ms is not None and not (
        isinstance(reaction_time_ms, (int, float))
        and math.isfinite(reaction_time_ms)
        and 0 <= reaction_time_ms <= MAX_REACTION_TIME_MS
    ):
        raise BadAnswer("reaction_time_ms must be a finite number of milliseconds, 0 or more.")
    if client_timing is not None and (not isinstance(client_timing, dict) or len(client_timing) > MAX_CLIENT_TIMING_KEYS):
        raise BadAnswer(f"client_timing must be an object with at most {MAX_CLIENT_TIMING_KEYS} keys.")

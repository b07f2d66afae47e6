"""Reads for survey pages: no writes here."""
from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from generation.models import PoolImage
from generation.selectors import SERVED_IMAGE_FIELDS, owned_by, pool_size_class

from .models import Participant, Response, Survey, Trial
from .stages import StageCounts


def participant_current_trial(*, participant: Participant) -> Trial | None:
    """The first trial without an answer; None once every trial is answered or the qualification screened them out.

    Answers come in order, so it is the trial at position ``answered_count``: one indexed lookup.
    """
    if participant.screened_out_at is not None:
        return None
    return (
        participant.trials.filter(position=participant.answered_count)
        .select_related("left_arm", "right_arm", "left_image", "right_image")
        .first()
    )


def participant_trial_image(*, participant: Participant, public_id: str, ahead: int) -> PoolImage | None:
    """The image ``public_id`` if a trial of ``participant`` near the current one shows it, else None (one query).

    Near means from the trial just answered (its feedback may still be on screen) to ``ahead`` trials past the
    current one (those the runner preloads). None alike for another participant's image, one of a later trial
    and an id that does not exist, so that no answer tells them apart.
    """
    if participant.screened_out_at is not None:
        return None  # the session ended: nothing more to look at
    current = participant.answered_count
    window = participant.trials.filter(position__range=(max(current - 1, 0), current + ahead))
    shown = window.filter(Q(left_image=OuterRef("pk")) | Q(right_image=OuterRef("pk")))
    return PoolImage.objects.only(*SERVED_IMAGE_FIELDS).filter(Exists(shown), public_id=public_id).first()


def participant_stage_counts(*, participant: Participant) -> StageCounts:
    """Where each stage starts and its size: stored when the participant started; counted for one made otherwise."""
    if participant.stages:
        return StageCounts.from_json(participant.stages)
    return StageCounts.of_trials(participant.trials.values_list("phase", "block", "position"))


def block_answers_before(*, trial: Trial) -> list[bool | None]:
    """Whether each answered test trial (main or attention) of ``trial``'s block before it was correct, in order."""
    return list(
        Response.objects.filter(
            trial__participant_id=trial.participant_id,
            trial__phase__in=(Trial.Phase.MAIN, Trial.Phase.ATTENTION),
            trial__block=trial.block,
            trial__position__lt=trial.position,
        )
        .order_by("trial__position")
        .values_list("correct", flat=True)
    )


def is_last_of_phase(*, trial: Trial) -> bool:
    return not Trial.objects.filter(
        participant_id=trial.participant_id, phase=trial.phase, position__gt=trial.position
    ).exists()


def participant_attention_failures(*, participant: Participant) -> tuple[int, int]:
    """(attention checks answered wrongly, attention checks planned)."""
    counts = participant.trials.filter(phase=Trial.Phase.ATTENTION).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(response__correct=False))
    )
    return counts["failed"], counts["total"]


def participant_qualification_accuracy(*, participant: Participant) -> dict[str, float | None]:
    """Share of correct qualification answers on real and on generated images; None where there were none."""
    accuracy: dict[str, float | None] = {}
    answered = participant.trials.filter(phase=Trial.Phase.QUALIFICATION, response__isnull=False)
    for expected in (Response.Choice.REAL, Response.Choice.GENERATED):
        counts = answered.filter(expected_choice=expected).aggregate(
            total=Count("id"), correct=Count("id", filter=Q(response__correct=True))
        )
        accuracy[str(expected)] = counts["correct"] / counts["total"] if counts["total"] else None
    return accuracy


def participant_for_token(*, slug: str, token: str | None) -> Participant | None:
    """The participant holding ``token`` in the survey ``slug``, with its survey."""
    if not token:
        return None
    try:  # get(), not first(): a token is unique, and an ORDER BY would only cost time on every answer
        return Participant.objects.select_related("survey").get(survey__slug=slug, token=token)
    except Participant.DoesNotExist:
        return None


def survey_list_for_researcher(*, user) -> QuerySet[Survey]:
    """The surveys ``user`` created; a superuser's: every survey, those with no owner included."""
    return owned_by(Survey.objects.all(), user=user)


def survey_for_researcher(*, user, pk: int) -> Survey:
    """The survey, if ``user`` may see it; Http404 otherwise, so that another researcher's survey looks like
    no survey at all. Every researcher page, export, chart and live view of a survey goes through here."""
    return get_object_or_404(survey_list_for_researcher(user=user), pk=pk)


def survey_list_with_counts(*, user) -> QuerySet[Survey]:
    return survey_list_for_researcher(user=user).select_related("created_by").annotate(
        participants_started=Count("participants", distinct=True),
        participants_completed=Count("participants", filter=Q(participants__completed_at__isnull=False), distinct=True),
        arm_count=Count("arms", distinct=True),
    ).order_by("-created_at")


def survey_participant_counts(*, survey: Survey) -> dict[str, int]:
    """Participants started, completed, excluded (attention checks) and screened out (qualification), and
    answers recorded: the one place these are counted."""
    counts = survey.participants.aggregate(
        started=Count("id"),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
        excluded=Count("id", filter=~Q(exclusion_reason="") & Q(screened_out_at__isnull=True)),
        screened_out=Count("id", filter=Q(screened_out_at__isnull=False)),
    )
    counts["responses"] = Trial.objects.filter(participant__survey=survey, response__isnull=False).count()
    return counts


def survey_image_sizes(*, survey: Survey) -> dict[str, list[tuple[int, int]]]:
    """The image sizes (width, height) of each arm, by arm label."""
    sizes: dict[str, set[tuple[int, int]]] = {arm.label: set() for arm in survey.arms.all()}
    rows = survey.arms.values_list("label", "pool__images__width", "pool__images__height").distinct()
    for label, width, height in rows:
        if width is not None:
            sizes[label].add((width, height))
    return {label: sorted(found) for label, found in sizes.items()}


def survey_size_warning(*, survey: Survey) -> str | None:
    """A warning when arms differ in image size (participants could tell the arms apart by sharpness), or when
    pools shared with other surveys make every image of this one served larger than its own largest."""
    sizes = survey_image_sizes(survey=survey)
    found = {size for found in sizes.values() for size in found}
    warnings = [_served_size_warning(survey, found)] if found else []
    if len(found) > 1:
        listed = "; ".join(f"{label}: {', '.join(f'{w}×{h}' for w, h in found)}" for label, found in sizes.items())
        warnings.insert(0, f"The arms' images differ in size ({listed}). Every image of a survey is served at one "
                           "size, so a smaller image is upscaled and may look softer: consider resizing the pools "
                           "to one size.")
    return " ".join(warning for warning in warnings if warning) or None


def _served_size_warning(survey: Survey, sizes: set[tuple[int, int]]) -> str:
    own = (max(w for w, _ in sizes), max(h for _, h in sizes))
    arm = survey.arms.first()
    served = pool_size_class(pool_id=arm.pool_id) if arm else None
    if served is None or served == own:
        return ""
    return (f"Its pools also take part in surveys with larger images, and every image of linked surveys is "
            f"served at one size: this survey's images reach participants at {served[0]}×{served[1]}, not "
            f"{own[0]}×{own[1]}.")

"""Reads for survey pages: no writes here."""
from __future__ import annotations

from django.db.models import Count, Q

from .models import Participant, Survey, Trial


def participant_current_trial(*, participant: Participant) -> Trial | None:
    """The first trial without an answer; None once every trial is answered."""
    return (
        participant.trials.filter(response__isnull=True)
        .select_related("left_image", "right_image")
        .order_by("position")
        .first()
    )


def participant_next_trial(*, participant: Participant, after: Trial) -> Trial | None:
    """The trial after ``after``, so the page can prefetch its images."""
    return (
        participant.trials.filter(position__gt=after.position)
        .select_related("left_image", "right_image")
        .order_by("position")
        .first()
    )


def participant_for_token(*, survey: Survey, token: str | None) -> Participant | None:
    if not token:
        return None
    return Participant.objects.filter(survey=survey, token=token).first()


def survey_list_with_counts():
    return Survey.objects.annotate(
        participants_started=Count("participants", distinct=True),
        participants_completed=Count("participants", filter=Q(participants__completed_at__isnull=False), distinct=True),
        arm_count=Count("arms", distinct=True),
    ).order_by("-created_at")


def survey_participant_counts(*, survey: Survey) -> dict[str, int]:
    """Participants started and completed, and answers recorded: the one place these are counted."""
    counts = survey.participants.aggregate(
        started=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False))
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
    """A warning when arms differ in image size: participants could tell the arms apart by sharpness."""
    sizes = survey_image_sizes(survey=survey)
    if len({size for found in sizes.values() for size in found}) <= 1:
        return None
    listed = "; ".join(f"{label}: {', '.join(f'{w}×{h}' for w, h in found)}" for label, found in sizes.items())
    return (f"The arms' images differ in size ({listed}). Both images of a trial are shown at the same size, "
            "so a smaller image is upscaled and may look softer: consider resizing the pools to one size.")

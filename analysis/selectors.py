"""Reads for the analysis pages, exports and commands."""
import pandas as pd

from generation.models import ImagePool
from surveys.models import Response, Survey, SurveyArm

# The database fields behind each column of the responses frame, in column order.
_RESPONSE_FIELDS = {
    "response_id": "id",
    "participant_id": "trial__participant_id",
    "participant_completed_at": "trial__participant__completed_at",
    "position": "trial__position",
    "left_arm_id": "trial__left_arm_id",
    "left_arm": "trial__left_arm__label",
    "left_arm_position": "trial__left_arm__position",
    "right_arm_id": "trial__right_arm_id",
    "right_arm": "trial__right_arm__label",
    "right_arm_position": "trial__right_arm__position",
    "choice": "choice",
    "reaction_time_ms": "reaction_time_ms",
    "created_at": "created_at",
    "phase": "trial__phase",
    "block": "trial__block",
    "exposure_ms": "trial__exposure_ms",
    "correct": "correct",
    "valid": "valid",
    "participant_exclusion_reason": "trial__participant__exclusion_reason",
}

RESPONSE_COLUMNS = [
    "response_id",
    "participant_id",
    "participant_completed",
    "position",
    "left_arm_id",
    "left_arm",
    "left_arm_position",
    "right_arm_id",
    "right_arm",
    "right_arm_position",
    "choice",
    "chosen_arm_id",
    "chosen_arm",
    "preferred_arm_id",
    "preferred_arm",
    "reaction_time_ms",
    "created_at",
    "phase",
    "block",
    "exposure_ms",
    "correct",
    "valid",
    "participant_excluded",
    "participant_exclusion_reason",
]


class SurveyNotFound(LookupError):
    """No survey, or more than one, answers to the reference given."""


def survey_find(*, reference: str) -> Survey:
    """The survey whose id, slug or (unique, exact) name is ``reference``."""
    reference = str(reference).strip()
    if reference.isdigit():
        survey = Survey.objects.filter(pk=int(reference)).first()
        if survey is not None:
            return survey
    survey = Survey.objects.filter(slug=reference).first()
    if survey is not None:
        return survey
    named = list(Survey.objects.filter(name=reference)[:2])
    if len(named) == 1:
        return named[0]
    if named:
        raise SurveyNotFound(f"Several surveys are named {reference!r}; give the id or slug instead.")
    raise SurveyNotFound(f"No survey has the id, slug or name {reference!r}.")


def survey_arms(*, survey: Survey) -> list[SurveyArm]:
    """The survey's compared arms in results order: by position, then creation.

    Arms that only feed attention checks are left out: they are not what the survey measures.
    Each arm carries ``is_real`` (its pool holds real images), which real/fake tables need.
    """
    arms = list(survey.arms.filter(role=SurveyArm.Role.COMPARED).select_related("pool").order_by("position", "id"))
    for arm in arms:
        arm.is_real = arm.pool.kind == ImagePool.Kind.REAL
        # Provenance for the arms table: which model made the pool, and how long it had trained.
        arm.model_family = arm.pool.model_family
        arm.iteration = arm.pool.iteration
        arm.training_hours = arm.pool.training_hours
    return arms


def survey_responses_frame(*, survey: Survey, completed_only: bool = False) -> pd.DataFrame:
    """One row per recorded response, read in a single query."""
    responses = Response.objects.filter(trial__participant__survey=survey)
    if completed_only:
        responses = responses.filter(trial__participant__completed_at__isnull=False)
    rows = responses.order_by("trial__participant_id", "trial__position").values_list(*_RESPONSE_FIELDS.values())
    frame = pd.DataFrame.from_records(list(rows), columns=list(_RESPONSE_FIELDS))
    return _with_derived_columns(frame, chooses_fake=survey.get_protocol().choose == "fake")[RESPONSE_COLUMNS]


def _with_derived_columns(frame: pd.DataFrame, chooses_fake: bool = False) -> pd.DataFrame:
    """Columns computed from the stored ones.

    ``chosen_arm`` is the side clicked; ``preferred_arm`` the image judged more realistic. They
    differ in surveys that ask "which is fake?", where the image not chosen is the preferred one.
    Real/fake trials show one image (the left arm), so both stay empty there.
    """
    chose_left = frame["choice"] == "left"
    pairwise = frame["choice"].isin(["left", "right"])
    frame["participant_completed"] = frame["participant_completed_at"].notna().astype(bool)
    frame["chosen_arm_id"] = frame["left_arm_id"].where(chose_left, frame["right_arm_id"]).where(pairwise)
    frame["chosen_arm"] = frame["left_arm"].where(chose_left, frame["right_arm"]).where(pairwise)
    preferred_left = ~chose_left if chooses_fake else chose_left
    frame["preferred_arm_id"] = frame["left_arm_id"].where(preferred_left, frame["right_arm_id"]).where(pairwise)
    frame["preferred_arm"] = frame["left_arm"].where(preferred_left, frame["right_arm"]).where(pairwise)
    frame["participant_excluded"] = frame["participant_exclusion_reason"].fillna("").astype(str) != ""
    frame["valid"] = frame["valid"].astype(bool)
    frame["exposure_ms"] = pd.to_numeric(frame["exposure_ms"], errors="coerce").astype(float)
    frame["reaction_time_ms"] = pd.to_numeric(frame["reaction_time_ms"], errors="coerce").astype(float)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def survey_completion_times(*, survey: Survey) -> pd.Series:
    """When each participant who completed the survey did so (UTC), earliest first."""
    times = survey.participants.filter(completed_at__isnull=False).order_by("completed_at")
    return pd.to_datetime(pd.Series(list(times.values_list("completed_at", flat=True)), dtype="object"), utc=True)

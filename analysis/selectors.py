"""Reads for the analysis pages, exports and commands."""
import pandas as pd

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
    "reaction_time_ms",
    "created_at",
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
    """The survey's arms in results order: by position, then creation."""
    return list(survey.arms.order_by("position", "id"))


def survey_responses_frame(*, survey: Survey, completed_only: bool = False) -> pd.DataFrame:
    """One row per recorded response, read in a single query."""
    responses = Response.objects.filter(trial__participant__survey=survey)
    if completed_only:
        responses = responses.filter(trial__participant__completed_at__isnull=False)
    rows = responses.order_by("trial__participant_id", "trial__position").values_list(*_RESPONSE_FIELDS.values())
    frame = pd.DataFrame.from_records(list(rows), columns=list(_RESPONSE_FIELDS))
    return _with_derived_columns(frame)[RESPONSE_COLUMNS]


def _with_derived_columns(frame: pd.DataFrame) -> pd.DataFrame:
    chose_left = frame["choice"] == "left"
    frame["participant_completed"] = frame["participant_completed_at"].notna().astype(bool)
    frame["chosen_arm_id"] = frame["left_arm_id"].where(chose_left, frame["right_arm_id"])
    frame["chosen_arm"] = frame["left_arm"].where(chose_left, frame["right_arm"])
    frame["reaction_time_ms"] = pd.to_numeric(frame["reaction_time_ms"], errors="coerce").astype(float)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame

import math
from types import SimpleNamespace

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from scipy.stats import binomtest

from analysis import selectors, stats, tables
from tests.analysis.conftest import answer, answer_pairs, make_survey
from surveys.models import Participant

pytestmark = pytest.mark.django_db


def pair_row(table: pd.DataFrame, arm_a: str, arm_b: str) -> pd.Series:
    match = table[(table.arm_a == arm_a) & (table.arm_b == arm_b)]
    assert len(match) == 1, f"no single row for {arm_a} vs {arm_b}"
    return match.iloc[0]


# The responses frame.


def test_frame_has_one_row_per_response_with_the_recorded_fields(known_survey):
    survey, arms = known_survey
    frame = selectors.survey_responses_frame(survey=survey)
    assert len(frame) == 13
    assert list(frame.columns) == selectors.RESPONSE_COLUMNS
    first = frame.iloc[0]
    assert (first.left_arm, first.right_arm, first.choice, first.chosen_arm) == ("A", "B", "left", "A")
    assert (first.left_arm_position, first.right_arm_position) == (0, 1)
    assert first.reaction_time_ms == 800.0
    assert bool(first.participant_completed) is True
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_frame_chosen_arm_follows_the_chosen_side(known_survey):
    frame = selectors.survey_responses_frame(survey=known_survey[0])
    chose_left = frame.choice == "left"
    assert (frame.chosen_arm[chose_left] == frame.left_arm[chose_left]).all()
    assert (frame.chosen_arm[~chose_left] == frame.right_arm[~chose_left]).all()
    assert (frame.chosen_arm_id[~chose_left] == frame.right_arm_id[~chose_left]).all()


def test_frame_completed_only_drops_unfinished_participants(known_survey):
    frame = selectors.survey_responses_frame(survey=known_survey[0], completed_only=True)
    assert len(frame) == 6
    assert frame.participant_completed.all()


def test_frame_is_read_in_one_query(known_survey):
    with CaptureQueriesContext(connection) as queries:
        selectors.survey_responses_frame(survey=known_survey[0])
    assert len(queries) == 1


def test_frame_of_a_survey_without_responses_is_empty_with_the_columns(db):
    survey, _ = make_survey("silent", [("A", 0), ("B", 1)])
    frame = selectors.survey_responses_frame(survey=survey)
    assert frame.empty
    assert list(frame.columns) == selectors.RESPONSE_COLUMNS


def test_frame_keeps_missing_reaction_times_as_nan(db):
    survey, arms = make_survey("no-rt", [("A", 0), ("B", 1)])
    answer(Participant.objects.create(survey=survey), arms["A"], arms["B"], "left")
    frame = selectors.survey_responses_frame(survey=survey)
    assert math.isnan(frame.reaction_time_ms.iloc[0])


def test_frame_holds_only_this_surveys_responses(known_survey):
    other, other_arms = make_survey("other", [("A", 0), ("B", 1)])
    answer(Participant.objects.create(survey=other), other_arms["A"], other_arms["B"], "left")
    assert len(selectors.survey_responses_frame(survey=known_survey[0])) == 13


# The pairwise table.


def known_table(known_survey, completed_only=False):
    survey, _ = known_survey
    frame = selectors.survey_responses_frame(survey=survey, completed_only=completed_only)
    return tables.pairwise_table(frame, selectors.survey_arms(survey=survey))


def test_every_pair_appears_once_in_arm_position_order(known_survey):
    table = known_table(known_survey)
    assert list(table.columns) == tables.PAIRWISE_COLUMNS
    assert list(zip(table.arm_a, table.arm_b)) == [("A", "B"), ("A", "C"), ("B", "C")]


def test_counts_and_wins_match_the_recorded_answers(known_survey):
    table = known_table(known_survey)
    ab, ac = pair_row(table, "A", "B"), pair_row(table, "A", "C")
    assert (ab.n, ab.wins_a, ab.wins_b) == (10, 7, 3)
    assert (ac.n, ac.wins_a, ac.wins_b) == (3, 0, 3)
    assert ab.selection_rate_a == 0.7
    assert ac.selection_rate_a == 0.0


def test_completed_only_counts_only_completed_participants(known_survey):
    table = known_table(known_survey, completed_only=True)
    ab, ac = pair_row(table, "A", "B"), pair_row(table, "A", "C")
    assert (ab.n, ab.wins_a) == (4, 3)
    assert (ac.n, ac.wins_a) == (2, 0)


def test_p_values_and_intervals_equal_scipy(known_survey):
    for row in known_table(known_survey).itertuples():
        if row.n == 0:
            continue
        test = binomtest(row.wins_a, row.n, 0.5, alternative="two-sided")
        interval = test.proportion_ci(confidence_level=0.95, method="exact")
        assert row.p_value == pytest.approx(test.pvalue, abs=1e-12)
        assert row.ci_low == pytest.approx(interval.low, abs=1e-9)
        assert row.ci_high == pytest.approx(interval.high, abs=1e-9)


def test_a_pair_without_answers_has_n_zero_and_empty_statistics(known_survey):
    bc = pair_row(known_table(known_survey), "B", "C")
    assert (bc.n, bc.wins_a, bc.wins_b) == (0, 0, 0)
    assert all(math.isnan(bc[column]) for column in ["selection_rate_a", "p_value", "ci_low", "ci_high"])


def test_count_columns_are_integers(known_survey):
    table = known_table(known_survey)
    assert all(pd.api.types.is_integer_dtype(table[column]) for column in ["n", "wins_a", "wins_b"])


def test_table_of_a_survey_without_responses_lists_every_pair(db):
    survey, _ = make_survey("silent", [("A", 0), ("B", 1), ("C", 2), ("D", 3)])
    frame = selectors.survey_responses_frame(survey=survey)
    table = tables.pairwise_table(frame, selectors.survey_arms(survey=survey))
    assert len(table) == 6
    assert (table.n == 0).all()


def test_table_from_a_plain_frame_and_plain_arms():
    # No database: any objects with id, label and position will do, so the table is reusable.
    arms = [SimpleNamespace(id=20, label="late", position=1), SimpleNamespace(id=10, label="early", position=0)]
    frame = pd.DataFrame(
        {"left_arm_id": [20, 10, 20, 10], "right_arm_id": [10, 20, 10, 10], "preferred_arm_id": [20, 10, 10, 10]}
    )
    table = tables.pairwise_table(frame, arms)
    # The last trial shows an arm against itself and compares nothing.
    assert table[["arm_a", "arm_b", "n", "wins_a"]].values.tolist() == [["early", "late", 3, 2]]


def test_arm_position_ties_fall_back_to_creation_order():
    arms = [SimpleNamespace(id=2, label="second", position=0), SimpleNamespace(id=1, label="first", position=0)]
    frame = pd.DataFrame({"left_arm_id": [], "right_arm_id": [], "preferred_arm_id": []})
    table = tables.pairwise_table(frame, arms)
    assert (table.arm_a.iloc[0], table.arm_b.iloc[0]) == ("first", "second")


# The summary.


def test_summary_counts_participants_and_responses(known_survey):
    survey, _ = known_survey
    frame = selectors.survey_responses_frame(survey=survey)
    summary = tables.survey_summary(survey=survey, frame=frame)
    assert summary["participants_started"] == 3
    assert summary["participants_completed"] == 1
    assert summary["responses_counted"] == 13
    assert summary["responses_scope"] == tables.SCOPE_ALL
    assert summary["test"] == stats.TEST_NAME
    assert summary["interval"] == stats.INTERVAL_NAME


def test_summary_says_when_only_completed_participants_count(known_survey):
    results = tables.survey_results(survey=known_survey[0], completed_only=True)
    assert results.summary["responses_counted"] == 6
    assert results.summary["completed_only"] is True
    assert results.summary["responses_scope"] == tables.SCOPE_COMPLETED


# Through the survey services, as participants really answer.


def test_table_counts_answers_recorded_through_the_services(db):
    from surveys import services

    survey, arms = make_survey("services", [("A", 0), ("B", 1), ("C", 2)])
    survey = services.survey_open(survey=survey)
    participants = [services.participant_start(survey=survey) for _ in range(3)]
    for participant in participants:
        for trial in participant.trials.order_by("position"):
            services.response_record(participant=participant, position=trial.position, choice="left")

    results = tables.survey_results(survey=survey, completed_only=True)
    frame = selectors.survey_responses_frame(survey=survey)
    assert results.summary["participants_completed"] == 3
    assert results.table.n.sum() == len(frame) == 3 * survey.trials_per_participant
    for row in results.table.itertuples():
        # Everyone chose the left image, so arm A won exactly the trials that showed it on the left.
        a_left = (frame.left_arm == row.arm_a) & (frame.right_arm == row.arm_b)
        a_right = (frame.left_arm == row.arm_b) & (frame.right_arm == row.arm_a)
        shown = frame[a_left | a_right]
        assert row.n == len(shown)
        assert row.wins_a == int((shown.left_arm == row.arm_a).sum())

"""Results tables (pandas) built from the responses frame; every statistic comes from stats.py."""
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import pandas as pd
from django.utils import timezone

from analysis import selectors, stats
from surveys.selectors import survey_participant_counts

PAIRWISE_COLUMNS = [
    "arm_a",
    "arm_b",
    "n",
    "wins_a",
    "wins_b",
    "selection_rate_a",
    "p_value",
    "ci_low",
    "ci_high",
]

SCOPE_ALL = "all recorded answers"
SCOPE_COMPLETED = "answers of participants who completed the survey"


class Arm(Protocol):
    id: int
    label: str
    position: int


def pairwise_table(frame: pd.DataFrame, arms: Sequence[Arm]) -> pd.DataFrame:
    """One row per unordered pair of ``arms``; arm A is the one with the lower position.

    Pairs nobody answered keep their row, with n = 0 and NaN statistics, so a missing
    comparison shows as missing rather than silently vanishing from the table.
    """
    ordered = sorted(arms, key=lambda arm: (arm.position, arm.id))
    counts = _pair_counts(frame, [arm.id for arm in ordered])
    rows = []
    for arm_a, arm_b in combinations(ordered, 2):
        n, wins_a = counts.get((arm_a.id, arm_b.id), (0, 0))
        rows.append(_pairwise_row(arm_a.label, arm_b.label, stats.pairwise_result(wins_a, n)))
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS).astype(
        {"n": "int64", "wins_a": "int64", "wins_b": "int64"}
    )


def _pair_counts(frame: pd.DataFrame, arm_ids_in_order: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """{(arm A id, arm B id): (n, wins of A)} over the trials that compared two distinct known arms."""
    rank = {arm_id: i for i, arm_id in enumerate(arm_ids_in_order)}
    ranks = pd.DataFrame(
        {
            "left": frame["left_arm_id"].map(rank),
            "right": frame["right_arm_id"].map(rank),
            "chosen": frame["chosen_arm_id"].map(rank),
        }
    )
    # Trials showing an arm outside ``arms``, or an arm against itself, compare no pair of them.
    ranks = ranks[ranks["left"].notna() & ranks["right"].notna() & (ranks["left"] != ranks["right"])]
    sides = ranks[["left", "right"]]
    pairs = pd.DataFrame({"a": sides.min(axis=1), "b": sides.max(axis=1)})
    pairs["a_won"] = ranks["chosen"] == pairs["a"]
    grouped = pairs.groupby(["a", "b"])["a_won"].agg(["size", "sum"])
    return {
        (arm_ids_in_order[int(a)], arm_ids_in_order[int(b)]): (int(size), int(wins))
        for (a, b), size, wins in zip(grouped.index, grouped["size"], grouped["sum"])
    }


def _pairwise_row(label_a: str, label_b: str, result: stats.PairwiseResult) -> dict:
    return {
        "arm_a": label_a,
        "arm_b": label_b,
        "n": result.n,
        "wins_a": result.wins_a,
        "wins_b": result.wins_b,
        "selection_rate_a": result.rate_a,
        "p_value": result.p_value,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
    }


def survey_summary(*, survey, frame: pd.DataFrame, completed_only: bool = False) -> dict:
    """What a results table rests on: who took part, which answers were counted, and how."""
    participants = survey_participant_counts(survey=survey)
    return {
        "survey_name": survey.name,
        "survey_slug": survey.slug,
        "generated_at": timezone.now(),
        "participants_started": participants["started"],
        "participants_completed": participants["completed"],
        "responses_counted": len(frame),
        "completed_only": completed_only,
        "responses_scope": SCOPE_COMPLETED if completed_only else SCOPE_ALL,
        "test": stats.TEST_NAME,
        "interval": stats.interval_name(stats.DEFAULT_CONFIDENCE),
        "confidence": stats.DEFAULT_CONFIDENCE,
    }


@dataclass(frozen=True)
class SurveyResults:
    table: pd.DataFrame
    summary: dict


def survey_pairwise_results(*, survey, completed_only: bool = False) -> SurveyResults:
    """The pairwise table and its summary: what the results page and every export show."""
    frame = selectors.survey_responses_frame(survey=survey, completed_only=completed_only)
    table = pairwise_table(frame, selectors.survey_arms(survey=survey))
    return SurveyResults(table=table, summary=survey_summary(survey=survey, frame=frame, completed_only=completed_only))

"""Results tables (pandas) built from the responses frame; every statistic comes from stats.py."""
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Protocol

import numpy as np
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
    "wilson_low",
    "wilson_high",
    "p_holm",
]

SCOPE_ALL = "all recorded answers"
SCOPE_COMPLETED = "answers of participants who completed the survey"


REAL_FAKE_COLUMNS = [
    "arm",
    "images",
    "exposure_ms",
    "n",
    "judged_real",
    "judged_real_rate",
    "ci_low",
    "ci_high",
    "correct",
    "accuracy",
    "error_rate",
    "p_above_chance",
]


class Arm(Protocol):
    id: int
    label: str
    position: int


class JudgedArm(Arm, Protocol):
    is_real: bool


class ProvenancedArm(JudgedArm, Protocol):
    model_family: str
    iteration: int | None
    training_hours: float | None


ARM_COLUMNS = [
    "arm", "images", "model", "iterations", "training_hours", "n", "preferred", "preferred_rate", "ci_low", "ci_high",
]


# Which answers a table counts. Each rule removes answers; the summary says how many.
RULE_NOT_MEASURED = "training, qualification, practice and attention-check trials (not measurements)"
RULE_EXCLUDED = "participants excluded (attention checks failed, or screened out)"
RULE_INVALID = "trials with invalid timing (exposure off by more than half a frame, a dropped frame, or focus lost)"


@dataclass(frozen=True)
class Exclusion:
    rule: str
    responses: int
    participants: int


def counted_responses(
    frame: pd.DataFrame, *, include_invalid: bool = False, include_excluded: bool = False
) -> tuple[pd.DataFrame, list[Exclusion]]:
    """The responses a results table counts, and what each rule left out, in the order applied.

    By default only main trials count, from participants not excluded, with valid timing.
    """
    rules = [(RULE_NOT_MEASURED, frame["phase"] != "main")]
    if not include_excluded:
        rules.append((RULE_EXCLUDED, frame["participant_excluded"]))
    if not include_invalid:
        rules.append((RULE_INVALID, ~frame["valid"]))
    removed_so_far = pd.Series(False, index=frame.index)
    exclusions = []
    for rule, removes in rules:
        newly = removes & ~removed_so_far
        exclusions.append(Exclusion(rule, int(newly.sum()), int(frame.loc[newly, "participant_id"].nunique())))
        removed_so_far |= removes
    return frame[~removed_so_far], exclusions


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
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS).astype({"n": "int64", "wins_a": "int64", "wins_b": "int64"})
    return _with_holm(table)


def _with_holm(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values across every row of the table: the survey's whole family of pair tests."""
    return table.assign(p_holm=stats.holm(table["p_value"].tolist()))


def _pair_counts(frame: pd.DataFrame, arm_ids_in_order: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """{(arm A id, arm B id): (n, wins of A)} over the trials that compared two distinct known arms.

    A "win" is being judged the more realistic image (``preferred_arm_id``).
    """
    rank = {arm_id: i for i, arm_id in enumerate(arm_ids_in_order)}
    ranks = pd.DataFrame(
        {
            "left": frame["left_arm_id"].map(rank),
            "right": frame["right_arm_id"].map(rank),
            "chosen": frame["preferred_arm_id"].map(rank),
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


def pairwise_table_by_exposure(frame: pd.DataFrame, arms: Sequence[Arm]) -> pd.DataFrame:
    """The pairwise table once per planned exposure (shortest first), with an exposure_ms column.

    Untimed answers form one block with an empty exposure; every exposure keeps every pair.
    """
    exposures = sorted(frame["exposure_ms"].dropna().unique())
    blocks = []
    if frame["exposure_ms"].isna().any() or not exposures:
        blocks.append(pairwise_table(frame[frame["exposure_ms"].isna()], arms).assign(exposure_ms=math.nan))
    for exposure in exposures:
        blocks.append(pairwise_table(frame[frame["exposure_ms"] == exposure], arms).assign(exposure_ms=exposure))
    table = _with_holm(pd.concat(blocks, ignore_index=True))
    return table[["arm_a", "arm_b", "exposure_ms", *PAIRWISE_COLUMNS[2:]]]


def arms_table(frame: pd.DataFrame, arms: Sequence[ProvenancedArm]) -> pd.DataFrame:
    """One row per arm: its provenance, and how often it was judged the more realistic over all its pairs.

    It reads like the DCGAN-family study's table (method, selection rate, iterations, training
    hours); each arm's rate pools its comparisons, so the pairwise table stays the test.
    """
    rows = []
    for arm in sorted(arms, key=lambda arm: (arm.position, arm.id)):
        shown = frame[(frame["left_arm_id"] == arm.id) | (frame["right_arm_id"] == arm.id)]
        shown = shown[shown["left_arm_id"] != shown["right_arm_id"]]
        preferred = int((shown["preferred_arm_id"] == arm.id).sum())
        ci_low, ci_high = stats.clopper_pearson(preferred, len(shown))
        rows.append({
            "arm": arm.label, "images": "real" if arm.is_real else "generated", "model": arm.model_family or "",
            "iterations": arm.iteration, "training_hours": arm.training_hours, "n": len(shown), "preferred": preferred,
            "preferred_rate": preferred / len(shown) if len(shown) else math.nan, "ci_low": ci_low, "ci_high": ci_high,
        })
    return pd.DataFrame(rows, columns=ARM_COLUMNS).astype({"n": "int64", "preferred": "int64"})


RANKING_COLUMNS = ["rank", "arm", "images", "score", "score_low", "score_high", "n"]


def ranking_table(frame: pd.DataFrame, arms: Sequence[JudgedArm], *, rounds: int = stats.BRADLEY_TERRY_ROUNDS,
                  seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Bradley–Terry scores of every compared arm, best first, with participant-bootstrap intervals.

    With a real arm, scores are relative to it (0 = as realistic as the real images, negative = less):
    the ranking reads as "how close to real". Returns the table and the method's name; an empty
    table when fewer than two arms were compared or the comparisons do not connect the arms.
    """
    ordered = sorted(arms, key=lambda arm: (arm.position, arm.id))
    index = {arm.id: i for i, arm in enumerate(ordered)}
    pairs = frame[frame["left_arm_id"].isin(index) & frame["right_arm_id"].isin(index)
                  & (frame["left_arm_id"] != frame["right_arm_id"])]
    if len(ordered) < 2 or pairs.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS), ""
    winners = pairs["preferred_arm_id"].map(index).to_numpy()
    losers = np.where(pairs["preferred_arm_id"] == pairs["left_arm_id"], pairs["right_arm_id"], pairs["left_arm_id"])
    trials = np.column_stack([pairs["participant_id"].to_numpy(), winners, pd.Series(losers).map(index).to_numpy()])
    reference = next((i for i, arm in enumerate(ordered) if arm.is_real), None)
    try:
        result = stats.bradley_terry_bootstrap(trials.astype(np.int64), len(ordered), rounds=rounds, seed=seed,
                                               reference=reference)
    except ValueError:  # arms the answers do not connect cannot be placed on one scale
        return pd.DataFrame(columns=RANKING_COLUMNS), ""
    shown = np.bincount(np.concatenate([winners, trials[:, 2]]).astype(np.int64), minlength=len(ordered))
    rows = [{"rank": int(result.rank[i]) + 1, "arm": arm.label, "images": "real" if arm.is_real else "generated",
             "score": float(result.scores[i]), "score_low": float(result.low[i]), "score_high": float(result.high[i]),
             "n": int(shown[i])} for i, arm in enumerate(ordered)]
    method = result.method + ("; scores relative to the real arm" if reference is not None else "; scores centred")
    return pd.DataFrame(rows, columns=RANKING_COLUMNS).sort_values("rank", ignore_index=True), method


@dataclass(frozen=True)
class PositionBias:
    """How often the left image was chosen (the side clicked), against 0.5."""

    n: int
    left: int
    rate: float
    p_value: float
    ci_low: float
    ci_high: float


def position_bias(frame: pd.DataFrame) -> PositionBias:
    sides = frame[frame["choice"].isin(["left", "right"])]
    result = stats.pairwise_result(int((sides["choice"] == "left").sum()), len(sides))
    return PositionBias(result.n, result.wins_a, result.rate_a, result.p_value, result.ci_low, result.ci_high)


def real_fake_table(frame: pd.DataFrame, arms: Sequence[JudgedArm], by_exposure: bool) -> pd.DataFrame:
    """One row per arm (and per exposure when ``by_exposure``): how often its images were judged real.

    For a generated arm the judged-real rate is the fool rate; for a real arm it is the hit rate.
    Accuracy is the share of correct verdicts either way. Adaptive (staircase) exposures vary
    by the trial, so those surveys get one row per arm.
    """
    rows = []
    for arm in sorted(arms, key=lambda arm: (arm.position, arm.id)):
        answers = frame[frame["left_arm_id"] == arm.id]
        exposures = sorted(answers["exposure_ms"].dropna().unique()) if by_exposure else []
        groups = [(math.nan, answers)] if not exposures else [
            (exposure, answers[answers["exposure_ms"] == exposure]) for exposure in exposures
        ]
        for exposure, group in groups:
            rows.append(_real_fake_row(arm, exposure, group))
    return pd.DataFrame(rows, columns=REAL_FAKE_COLUMNS).astype({"n": "int64", "judged_real": "int64", "correct": "int64"})


def _real_fake_row(arm: JudgedArm, exposure: float, answers: pd.DataFrame) -> dict:
    n = len(answers)
    judged_real = int((answers["choice"] == "real").sum())
    correct = judged_real if arm.is_real else n - judged_real
    ci_low, ci_high = stats.clopper_pearson(judged_real, n)
    return {
        "arm": arm.label,
        "images": "real" if arm.is_real else "generated",
        "exposure_ms": exposure,
        "n": n,
        "judged_real": judged_real,
        "judged_real_rate": judged_real / n if n else math.nan,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "correct": correct,
        "accuracy": correct / n if n else math.nan,
        "error_rate": (n - correct) / n if n else math.nan,
        "p_above_chance": stats.binomial_one_sided_p(correct, n),
    }


def _pairwise_row(label_a: str, label_b: str, result: stats.PairwiseResult) -> dict:
    wilson_low, wilson_high = stats.wilson(result.wins_a, result.n)
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
        "wilson_low": wilson_low,
        "wilson_high": wilson_high,
        "p_holm": math.nan,  # set across the whole table by _with_holm
    }


def survey_summary(
    *, survey, frame: pd.DataFrame, completed_only: bool = False, exclusions: Sequence[Exclusion] = ()
) -> dict:
    """What a results table rests on: who took part, which answers were counted, and how."""
    participants = survey_participant_counts(survey=survey)
    protocol = survey.get_protocol()
    return {
        "kind": survey.kind,
        "chooses_fake": protocol.choose == "fake" and survey.kind == "pairwise",
        "exclusions": list(exclusions),
        "survey_name": survey.name,
        "survey_slug": survey.slug,
        "generated_at": timezone.now(),
        "participants_started": participants["started"],
        "participants_completed": participants["completed"],
        "responses_counted": len(frame),
        "completed_only": completed_only,
        "responses_scope": SCOPE_COMPLETED if completed_only else SCOPE_ALL,
        "test": stats.TEST_NAME if survey.kind == "pairwise" else stats.ONE_SIDED_TEST_NAME,
        "second_interval": stats.WILSON_NAME if survey.kind == "pairwise" else "",
        "adjustment": stats.HOLM_NAME if survey.kind == "pairwise" else "",
        "interval": stats.interval_name(stats.DEFAULT_CONFIDENCE),
        "confidence": stats.DEFAULT_CONFIDENCE,
    }


@dataclass(frozen=True)
class SurveyResults:
    table: pd.DataFrame
    summary: dict
    arms: pd.DataFrame | None = None  # pairwise surveys: each arm's provenance and pooled rate
    ranking: pd.DataFrame | None = None  # pairwise surveys: Bradley–Terry scores, best first

    @property
    def kind(self) -> str:
        return self.summary["kind"]


def survey_results(*, survey, completed_only: bool = False, include_invalid: bool = False) -> SurveyResults:
    """The survey's table (pairwise or real/fake) and its summary: what the page and every export show."""
    frame = selectors.survey_responses_frame(survey=survey, completed_only=completed_only)
    counted, exclusions = counted_responses(frame, include_invalid=include_invalid)
    arms = selectors.survey_arms(survey=survey)
    fixed_exposures = bool(survey.get_protocol().exposures_ms)
    if survey.kind == "real_fake":
        table = real_fake_table(counted, arms, by_exposure=fixed_exposures)
    elif fixed_exposures:
        table = pairwise_table_by_exposure(counted, arms)
    else:
        table = pairwise_table(counted, arms)
    summary = survey_summary(survey=survey, frame=counted, completed_only=completed_only, exclusions=exclusions)
    summary["include_invalid"] = include_invalid
    if survey.kind == "real_fake":
        return SurveyResults(table=table, summary=summary)
    summary["position_bias"] = position_bias(counted)
    ranking, summary["ranking_method"] = ranking_table(counted, arms)
    return SurveyResults(table=table, summary=summary, arms=arms_table(counted, arms), ranking=ranking)

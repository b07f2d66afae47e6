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

# Implausibly fast answers. The reaction time runs from the image's onset: under about 250 ms nobody can
# see, judge and press (simple visual reaction times alone are around 200-250 ms), so such an answer was
# made before looking. A participant who answers many trials that fast is clicking through, and their
# other answers are not trusted either.
MIN_REACTION_MS = 250.0
MAX_FAST_SHARE = 0.25


def rule_fast_participants(min_reaction_ms: float, max_fast_share: float) -> str:
    return (f"participants who answered more than {max_fast_share:.0%} of their trials in under "
            f"{min_reaction_ms:g} ms (clicking through)")


def rule_fast_answers(min_reaction_ms: float) -> str:
    return f"answers given in under {min_reaction_ms:g} ms from the image's onset (too fast to have looked)"


# The longest minimum reaction time an option may set: beyond it the rule would call careful answers fast.
MAX_MIN_REACTION_MS = 10_000.0


@dataclass(frozen=True)
class CountingOptions:
    """Which answers the tables count: the results page's query, the export links' and the command's flags."""

    completed_only: bool = False
    include_invalid: bool = False
    min_reaction_ms: float = MIN_REACTION_MS

    def __post_init__(self):
        if not 0 <= self.min_reaction_ms <= MAX_MIN_REACTION_MS:
            raise ValueError(
                f"The minimum reaction time must lie between 0 (rule off) and {MAX_MIN_REACTION_MS:g} ms, "
                f"not {self.min_reaction_ms:g}."
            )

    def as_kwargs(self) -> dict:
        return {"completed_only": self.completed_only, "include_invalid": self.include_invalid,
                "min_reaction_ms": self.min_reaction_ms}


@dataclass(frozen=True)
class Exclusion:
    rule: str
    responses: int
    participants: int


def counted_responses(
    frame: pd.DataFrame,
    *,
    include_invalid: bool = False,
    include_excluded: bool = False,
    min_reaction_ms: float = MIN_REACTION_MS,
    max_fast_share: float = MAX_FAST_SHARE,
) -> tuple[pd.DataFrame, list[Exclusion]]:
    """The responses a results table counts, and what each rule left out, in the order applied.

    By default only main trials count, from participants not excluded, answered no faster than
    ``min_reaction_ms`` by participants who were not clicking through, with valid timing.
    ``min_reaction_ms=0`` turns both speed rules off.
    """
    measured = frame["phase"] == "main"
    rules = [(RULE_NOT_MEASURED, ~measured)]
    if not include_excluded:
        rules.append((RULE_EXCLUDED, frame["participant_excluded"]))
    if min_reaction_ms > 0:
        fast = (frame["reaction_time_ms"] < min_reaction_ms).fillna(False).astype(bool)
        rules.append((rule_fast_participants(min_reaction_ms, max_fast_share),
                      _clicking_through(frame, fast & measured, measured, max_fast_share)))
        rules.append((rule_fast_answers(min_reaction_ms), fast))
    if not include_invalid:
        rules.append((RULE_INVALID, ~frame["valid"]))
    removed_so_far = pd.Series(False, index=frame.index)
    exclusions = []
    for rule, removes in rules:
        newly = removes & ~removed_so_far
        exclusions.append(Exclusion(rule, int(newly.sum()), int(frame.loc[newly, "participant_id"].nunique())))
        removed_so_far |= removes
    return frame[~removed_so_far], exclusions


def _clicking_through(frame: pd.DataFrame, fast: pd.Series, measured: pd.Series, max_share: float) -> pd.Series:
    """Every answer of each participant whose share of fast main answers exceeds ``max_share``."""
    person = frame["participant_id"]
    fast_share = fast.groupby(person).sum() / measured.groupby(person).sum().clip(lower=1)
    return person.map(fast_share > max_share).fillna(False).astype(bool)


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


# --- Exposure curves (CRN timed study) ------------------------------------------------------------

MEASURE_ACCURACY = "accuracy"  # real/fake: share of correct verdicts on the arm's images
MEASURE_REAL_PREFERRED = "real preferred"  # pairwise: share of trials against the real arm the real image won
MEASURE_SELECTION = "selection rate"  # pairwise without a real arm: the arm's pooled selection rate
# Measures that start at chance (0.5) for a glance too short to see anything and rise with exposure:
# only these get a psychometric fit, whose lower asymptote is that chance level.
_FITTED_MEASURES = {MEASURE_ACCURACY, MEASURE_REAL_PREFERRED}


def exposure_curve_table(frame: pd.DataFrame, arms: Sequence[JudgedArm], kind: str) -> pd.DataFrame:
    """Rate against planned exposure, one row per arm and exposure (EXPOSURE_CURVE_COLUMNS).

    Real/fake surveys plot each arm's accuracy. Pairwise surveys with a real arm plot, for each
    generated arm, how often the real image won against it (rising from 0.5 as people get time to
    tell them apart); without a real arm, each arm's pooled selection rate.
    """
    timed = frame[frame["exposure_ms"].notna()]
    exposure = timed["exposure_ms"].to_numpy(dtype=float)
    rows = []
    for arm, measure, rows_of_arm, successes in _curve_outcomes(timed, arms, kind):
        levels, level = np.unique(exposure[rows_of_arm], return_inverse=True)
        n = np.bincount(level, minlength=levels.size)
        k = np.bincount(level, weights=successes, minlength=levels.size)
        rows.extend(_curve_row(arm, measure, *point) for point in zip(levels, n, k))
    return pd.DataFrame(rows, columns=EXPOSURE_CURVE_COLUMNS).astype({"n": "int64", "successes": "int64"})


def _curve_outcomes(frame: pd.DataFrame, arms: Sequence[JudgedArm], kind: str):
    """For each arm that has a curve: (arm, measure, which rows of ``frame`` it rests on, 0/1 success per such row)."""
    ordered = sorted(arms, key=lambda arm: (arm.position, arm.id))
    left, right = frame["left_arm_id"].to_numpy(), frame["right_arm_id"].to_numpy()
    if kind == "real_fake":
        correct = frame["correct"].fillna(False).to_numpy(dtype=bool)
        for arm in ordered:
            rows = left == arm.id
            yield arm, MEASURE_ACCURACY, rows, correct[rows].astype(float)
        return
    preferred = frame["preferred_arm_id"].to_numpy()
    pair = left != right
    real_ids = [arm.id for arm in ordered if arm.is_real]
    shows_real = np.isin(left, real_ids) | np.isin(right, real_ids)
    for arm in ordered:
        if real_ids and arm.is_real:
            continue
        shows = pair & ((left == arm.id) | (right == arm.id))
        if real_ids:
            rows = shows & shows_real
            yield arm, MEASURE_REAL_PREFERRED, rows, np.isin(preferred[rows], real_ids).astype(float)
        else:
            yield arm, MEASURE_SELECTION, shows, (preferred[shows] == arm.id).astype(float)


def _curve_row(arm: JudgedArm, measure: str, exposure: float, n: int, k: float) -> dict:
    n, k = int(n), int(k)
    ci_low, ci_high = stats.clopper_pearson(k, n)
    return {"arm": arm.label, "images": "real" if arm.is_real else "generated", "measure": measure,
            "exposure_ms": float(exposure), "n": n, "successes": k, "rate": k / n, "ci_low": ci_low, "ci_high": ci_high}


def threshold_table(frame: pd.DataFrame, arms: Sequence[JudgedArm], kind: str, *,
                    rounds: int = stats.PSYCHOMETRIC_ROUNDS, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """A psychometric fit per curve (THRESHOLD_COLUMNS) with a participant-bootstrap threshold interval.

    The threshold is the exposure at which the rate is halfway from chance to perfect (75 %). Arms
    whose answers cannot be fitted keep their row with NaN and a ``note`` saying why.
    """
    timed = frame[frame["exposure_ms"].notna()]
    participant = timed["participant_id"].to_numpy(dtype=float)
    exposure = timed["exposure_ms"].to_numpy(dtype=float)
    rows = []
    for arm, measure, rows_of_arm, successes in _curve_outcomes(timed, arms, kind):
        if measure not in _FITTED_MEASURES or not rows_of_arm.any():
            continue
        trials = np.column_stack([participant[rows_of_arm], exposure[rows_of_arm], successes])
        rows.append(_threshold_row(arm, measure, trials, rounds, seed))
    method = stats.psychometric_bootstrap_name(stats.PSYCHOMETRIC_FLOOR, stats.DEFAULT_CONFIDENCE, rounds) if rows else ""
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS), method


def _threshold_row(arm: JudgedArm, measure: str, trials: np.ndarray, rounds: int, seed: int) -> dict:
    row = {"arm": arm.label, "images": "real" if arm.is_real else "generated", "measure": measure,
           "threshold_ms": math.nan, "threshold_low": math.nan, "threshold_high": math.nan, "slope": math.nan,
           "floor": stats.PSYCHOMETRIC_FLOOR, "converged": False, "failed_rounds": 0, "note": ""}
    try:
        fit, low, high = stats.psychometric_threshold_bootstrap(trials, rounds=rounds, seed=seed)
    except ValueError as error:  # degenerate answers: say why instead of printing a meaningless number
        return {**row, "note": str(error)}
    note = "" if fit.converged else "the answers change like a step: the slope has no finite estimate"
    if fit.failed_rounds:
        note = "; ".join(filter(None, [note, f"{fit.failed_rounds} of {rounds} bootstrap rounds could not be refitted"]))
    return {**row, "threshold_ms": fit.threshold_ms, "threshold_low": low, "threshold_high": high, "slope": fit.slope,
            "converged": fit.converged, "failed_rounds": fit.failed_rounds, "note": note}


# --- HYPE scores (real/fake surveys) ----------------------------------------------------------------

HYPE_INFINITY = "HYPE∞"
HYPE_TIME = "HYPE_time"
HYPE_INFINITY_SCOPE = (
    "per generated arm, over the answers on its images and on the real images shown in the same survey "
    "(the real images are shared by every generated arm)"
)


def hype_table(frame: pd.DataFrame, arms: Sequence[JudgedArm], *, staircase: bool,
               rounds: int = stats.HYPE_ROUNDS, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """HYPE∞ per generated arm and, for staircase surveys, HYPE_time (HYPE_COLUMNS); and each score's method."""
    rows, methods = [], {}
    real_ids = [arm.id for arm in arms if arm.is_real]
    generated = [arm for arm in sorted(arms, key=lambda arm: (arm.position, arm.id)) if not arm.is_real]
    for arm in generated:
        answers = frame[frame["left_arm_id"].isin([arm.id, *real_ids]) & frame["correct"].notna()]
        if answers.empty:
            continue
        trials = np.column_stack([answers["participant_id"].to_numpy(dtype=float),
                                  answers["correct"].astype(bool).to_numpy(dtype=float)])
        result = stats.hype_infinity_bootstrap(trials, rounds=rounds, seed=seed)
        rows.append({"score": HYPE_INFINITY, "arm": arm.label, "value": result.score, "low": result.low,
                     "high": result.high, "unit": "error rate", "participants": result.participants, "n": len(answers)})
        methods[HYPE_INFINITY] = f"{result.method}; {HYPE_INFINITY_SCOPE}"
    timed = frame[frame["exposure_ms"].notna()]
    if staircase and not timed.empty:
        trials = timed[["participant_id", "block", "exposure_ms"]].to_numpy(dtype=float)
        result = stats.hype_time_score(trials, rounds=rounds, seed=seed)
        label = generated[0].label if len(generated) == 1 else "all generated arms (one staircase)"
        rows.append({"score": HYPE_TIME, "arm": label, "value": result.score_ms, "low": result.low_ms,
                     "high": result.high_ms, "unit": "ms", "participants": result.participants, "n": len(timed)})
        methods[HYPE_TIME] = result.method
    return pd.DataFrame(rows, columns=HYPE_COLUMNS), methods


# --- Equal iterations / equal training time (the DCGAN-family study's table) -----------------------

# Training times within 10 % of each other count as equal: wall-clock hours are never exactly equal.
TRAINING_TIME_TOLERANCE = 0.10
EQUAL_ITERATIONS = "equal iterations"
EQUAL_TRAINING_TIME = "equal training time"


def matched_table(frame: pd.DataFrame, arms: Sequence[ProvenancedArm], kind: str) -> pd.DataFrame:
    """Generated arms side by side at equal iterations, then at equal training time (MATCHED_COLUMNS).

    Each group holds two or more generated arms whose pools say how long their model trained. The
    rate is how often the arm's images were judged more realistic (pairwise, pooled over its pairs)
    or judged real (real/fake: the fool rate).
    """
    rated = [(arm, *_arm_rate(frame, arm, kind)) for arm in sorted(arms, key=lambda arm: (arm.position, arm.id))
             if not arm.is_real]
    rows = []
    for comparison, groups in ((EQUAL_ITERATIONS, _equal_iteration_groups(rated)),
                               (EQUAL_TRAINING_TIME, _equal_time_groups(rated))):
        for group, members in groups:
            rows.extend(_matched_row(comparison, group, *member) for member in members)
    return pd.DataFrame(rows, columns=MATCHED_COLUMNS).astype({"n": "int64"})


def _arm_rate(frame: pd.DataFrame, arm: ProvenancedArm, kind: str) -> tuple[str, int, int]:
    """(measure, n, successes) for one arm over every counted answer showing it."""
    if kind == "real_fake":
        answers = frame[frame["left_arm_id"] == arm.id]
        return "judged real (fool rate)", len(answers), int((answers["choice"] == "real").sum())
    shown = frame[((frame["left_arm_id"] == arm.id) | (frame["right_arm_id"] == arm.id))
                  & (frame["left_arm_id"] != frame["right_arm_id"])]
    return "judged more realistic", len(shown), int((shown["preferred_arm_id"] == arm.id).sum())


def _equal_iteration_groups(rated: list) -> list[tuple[str, list]]:
    by_iterations: dict[int, list] = {}
    for member in rated:
        if member[0].iteration is not None:
            by_iterations.setdefault(int(member[0].iteration), []).append(member)
    return [(f"{iterations:,} iterations", members)
            for iterations, members in sorted(by_iterations.items()) if len(members) >= 2]


def _equal_time_groups(rated: list) -> list[tuple[str, list]]:
    """Runs of arms, shortest training first, each within TRAINING_TIME_TOLERANCE of its run's shortest."""
    timed = sorted((member for member in rated if member[0].training_hours), key=lambda m: m[0].training_hours)
    runs: list[list] = []
    for member in timed:
        if runs and member[0].training_hours <= runs[-1][0][0].training_hours * (1 + TRAINING_TIME_TOLERANCE):
            runs[-1].append(member)
        else:
            runs.append([member])
    return [(f"≈ {np.mean([m[0].training_hours for m in run]):.2f} h", run) for run in runs if len(run) >= 2]


def _matched_row(comparison: str, group: str, arm: ProvenancedArm, measure: str, n: int, successes: int) -> dict:
    ci_low, ci_high = stats.clopper_pearson(successes, n)
    return {"comparison": comparison, "group": group, "arm": arm.label, "model": arm.model_family or "",
            "iterations": arm.iteration, "training_hours": arm.training_hours, "measure": measure, "n": n,
            "rate": successes / n if n else math.nan, "ci_low": ci_low, "ci_high": ci_high}


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


# Rate against exposure, per arm (CRN timed study): the points of an exposure curve.
EXPOSURE_CURVE_COLUMNS = ["arm", "images", "measure", "exposure_ms", "n", "successes", "rate", "ci_low", "ci_high"]
# One psychometric fit per arm of the exposure curves; ``note`` says why an arm has no fit.
THRESHOLD_COLUMNS = [
    "arm", "images", "measure", "threshold_ms", "threshold_low", "threshold_high", "slope", "floor", "converged",
    "failed_rounds", "note",
]
# HYPE scores (real/fake surveys): HYPE∞ per generated arm, HYPE_time for staircase surveys.
HYPE_COLUMNS = ["score", "arm", "value", "low", "high", "unit", "participants", "n"]
# The DCGAN-family study's layout: generated arms side by side at equal iterations, then at equal training time.
MATCHED_COLUMNS = [
    "comparison", "group", "arm", "model", "iterations", "training_hours", "measure", "n", "rate", "ci_low", "ci_high",
]


@dataclass(frozen=True)
class SurveyResults:
    table: pd.DataFrame
    summary: dict
    arms: pd.DataFrame | None = None  # pairwise surveys: each arm's provenance and pooled rate
    ranking: pd.DataFrame | None = None  # pairwise surveys: Bradley–Terry scores, best first
    exposure_curves: pd.DataFrame | None = None  # timed surveys with fixed exposures (EXPOSURE_CURVE_COLUMNS)
    thresholds: pd.DataFrame | None = None  # psychometric fit per arm of the curves (THRESHOLD_COLUMNS)
    hype: pd.DataFrame | None = None  # real/fake surveys (HYPE_COLUMNS)
    matched: pd.DataFrame | None = None  # arms at equal iterations / equal training time (MATCHED_COLUMNS)

    @property
    def kind(self) -> str:
        return self.summary["kind"]


def survey_results(*, survey, completed_only: bool = False, include_invalid: bool = False,
                   min_reaction_ms: float = MIN_REACTION_MS) -> SurveyResults:
    """Every table of the survey and their summary: what the page and every export show."""
    frame = selectors.survey_responses_frame(survey=survey, completed_only=completed_only)
    counted, exclusions = counted_responses(frame, include_invalid=include_invalid, min_reaction_ms=min_reaction_ms)
    arms = selectors.survey_arms(survey=survey)
    protocol = survey.get_protocol()
    summary = survey_summary(survey=survey, frame=counted, completed_only=completed_only, exclusions=exclusions)
    summary.update(include_invalid=include_invalid, min_reaction_ms=min_reaction_ms)
    curves, thresholds = None, None
    if len(protocol.exposures_ms) >= 2:
        curves = exposure_curve_table(counted, arms, survey.kind)
        thresholds, summary["curve_method"] = threshold_table(counted, arms, survey.kind)
    shared = {"summary": summary, "exposure_curves": curves, "thresholds": thresholds,
              "matched": matched_table(counted, arms, survey.kind)}
    if survey.kind == "real_fake":
        hype, summary["hype_methods"] = hype_table(counted, arms, staircase=protocol.staircase is not None)
        table = real_fake_table(counted, arms, by_exposure=bool(protocol.exposures_ms))
        return SurveyResults(table=table, hype=hype, **shared)
    table = pairwise_table_by_exposure(counted, arms) if protocol.exposures_ms else pairwise_table(counted, arms)
    summary["position_bias"] = position_bias(counted)
    ranking, summary["ranking_method"] = ranking_table(counted, arms)
    return SurveyResults(table=table, arms=arms_table(counted, arms), ranking=ranking, **shared)

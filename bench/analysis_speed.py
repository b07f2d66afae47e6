"""How long the analysis takes on a million responses, beside a plain pandas group-by.

Synthesises a timed pairwise survey (5 arms, arm 0 real, 7 exposures, 10 000 participants × 100
trials, a few invalid trials, fast answers and excluded participants) as the responses frame
analysis/selectors.py builds, then times what the results page computes: the counting rules, the
per-exposure pairwise table (exact tests, both intervals, Holm), the arms table, position bias, a
Bradley–Terry fit with 1 000 participant-bootstrap rounds, the exposure curves with a psychometric
fit and 1 000 bootstrap rounds per generated arm, and the equal-iterations / equal-time table.
Then the same for a real/fake survey of the same size: per-arm-and-exposure table, curves and
thresholds, and HYPE∞ with 1 000 rounds per generated arm. The baseline is one pandas group-by that
counts the same wins with no statistics. Target: each survey's whole analysis under 5 s on 2 cores.

    .venv/bin/python bench/analysis_speed.py [--participants 10000] [--trials 100] [--rounds 1000]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")
import django  # noqa: E402

django.setup()
from analysis import stats, tables  # noqa: E402

ARMS = 5
EXPOSURES = (125, 250, 500, 1000, 2000, 4000, 8000)
TRUE_SCORES = np.linspace(1.0, -1.0, ARMS)


def synthetic_frame(participants: int, trials: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = participants * trials
    left = rng.integers(0, ARMS, n)
    right = (left + rng.integers(1, ARMS, n)) % ARMS
    exposure = rng.choice(EXPOSURES, n).astype(float)
    # Longer looks separate the arms more: the score gap grows with log exposure.
    gap = (TRUE_SCORES[left] - TRUE_SCORES[right]) * np.log10(exposure) / np.log10(EXPOSURES[-1])
    chose_left = rng.random(n) < 1 / (1 + np.exp(-gap))
    preferred = np.where(chose_left, left, right)
    return _with_common_columns(pd.DataFrame({
        "left_arm_id": left, "right_arm_id": right, "choice": np.where(chose_left, "left", "right"),
        "chosen_arm_id": preferred, "preferred_arm_id": preferred, "exposure_ms": exposure,
    }), participants, trials, rng)


def synthetic_real_fake_frame(participants: int, trials: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = participants * trials
    arm = rng.integers(0, ARMS, n)
    exposure = rng.choice(EXPOSURES, n).astype(float)
    accuracy = 0.5 + 0.45 / (1 + (300 * (1 + arm) / exposure) ** 1.5)  # later arms are harder to tell
    correct = rng.random(n) < accuracy
    says_real = np.where(arm == 0, correct, ~correct)
    return _with_common_columns(pd.DataFrame({
        "left_arm_id": arm, "right_arm_id": np.nan, "choice": np.where(says_real, "real", "generated"),
        "chosen_arm_id": np.nan, "preferred_arm_id": np.nan, "exposure_ms": exposure, "correct": correct,
    }), participants, trials, rng)


def _with_common_columns(frame: pd.DataFrame, participants: int, trials: int, rng) -> pd.DataFrame:
    n = len(frame)
    participant = np.repeat(np.arange(participants), trials)
    excluded = rng.random(participants) < 0.03
    return frame.assign(
        response_id=np.arange(n), participant_id=participant, block=0,
        phase=np.where(rng.random(n) < 0.05, "attention", "main"),
        valid=rng.random(n) > 0.01, participant_excluded=excluded[participant],
        reaction_time_ms=rng.lognormal(np.log(900), 0.5, n),
    )


def arms() -> list[SimpleNamespace]:
    # Arms 1 and 2 share an iteration count, arms 3 and 4 a training time: both matched groups appear.
    provenance = {1: (2000, 1.0), 2: (2000, 0.4), 3: (5000, 1.02), 4: (8000, 2.0)}
    return [SimpleNamespace(id=i, label=f"arm {i}", position=i, is_real=i == 0, model_family="" if i == 0 else "gan",
                            iteration=provenance.get(i, (None, None))[0], training_hours=provenance.get(i, (None, None))[1])
            for i in range(ARMS)]


def timed(label: str, results: list, function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    results.append((label, time.perf_counter() - start))
    return value


def analyse(frame: pd.DataFrame, rounds: int) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    counted, _ = timed("counting rules (phase, exclusions, speed, validity)", steps, tables.counted_responses, frame)
    timed("pairwise table per exposure (exact p, Clopper–Pearson, Wilson, Holm)", steps,
          tables.pairwise_table_by_exposure, counted, arms())
    timed("arms table", steps, tables.arms_table, counted, arms())
    timed("position bias", steps, tables.position_bias, counted)
    winners = counted["preferred_arm_id"].to_numpy()
    losers = np.where(winners == counted["left_arm_id"].to_numpy(), counted["right_arm_id"], counted["left_arm_id"])
    trials = np.column_stack([counted["participant_id"].to_numpy(), winners, losers]).astype(np.int64)
    result = timed(f"Bradley–Terry + {rounds} participant-bootstrap rounds", steps,
                   stats.bradley_terry_bootstrap, trials, ARMS, rounds=rounds, seed=0)
    order = list(np.argsort(-result.scores))
    assert order == list(range(ARMS)), f"Bradley–Terry order {order} is not the simulated one"
    _curves(steps, counted, "pairwise", rounds)
    timed("equal iterations / equal training time table", steps, tables.matched_table, counted, arms(), "pairwise")
    return steps


def analyse_real_fake(frame: pd.DataFrame, rounds: int) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    counted, _ = timed("counting rules", steps, tables.counted_responses, frame)
    timed("judged-real table per arm and exposure (one-sided exact p)", steps,
          tables.real_fake_table, counted, arms(), True)
    _curves(steps, counted, "real_fake", rounds)
    hype, _ = timed(f"HYPE∞ per generated arm, {rounds} rounds each", steps,
                    tables.hype_table, counted, arms(), staircase=False, rounds=rounds)
    assert hype["value"].is_monotonic_increasing, "HYPE∞ should grow with the arms' simulated difficulty"
    return steps


def _curves(steps: list, counted: pd.DataFrame, kind: str, rounds: int) -> None:
    timed("exposure curves", steps, tables.exposure_curve_table, counted, arms(), kind)
    thresholds, _ = timed(f"psychometric fits, {rounds} bootstrap rounds per curve", steps,
                          tables.threshold_table, counted, arms(), kind, rounds=rounds)
    assert thresholds["threshold_ms"].notna().all(), f"a curve was not fitted: {thresholds['note'].tolist()}"


def baseline(frame: pd.DataFrame) -> float:
    start = time.perf_counter()
    pairs = pd.DataFrame({"a": np.minimum(frame.left_arm_id, frame.right_arm_id),
                          "b": np.maximum(frame.left_arm_id, frame.right_arm_id),
                          "exposure": frame.exposure_ms})
    pairs["a_won"] = frame.preferred_arm_id == pairs.a
    pairs.groupby(["a", "b", "exposure"])["a_won"].agg(["size", "sum"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1000)
    options = parser.parse_args()
    print(f"python {platform.python_version()} | {platform.machine()} | {os.cpu_count()} CPU cores visible")
    frame = synthetic_frame(options.participants, options.trials)
    print(f"{len(frame):,} synthetic responses per survey: {options.participants:,} participants × {options.trials} trials, "
          f"{ARMS} arms, {len(EXPOSURES)} exposures\n")
    pairwise = analyse(frame, options.rounds)
    real_fake = synthetic_real_fake_frame(options.participants, options.trials)
    judged = [(f"real/fake: {label}", seconds) for label, seconds in analyse_real_fake(real_fake, options.rounds)]
    width = max(len(label) for label, _ in pairwise + judged)
    for label, seconds in pairwise + judged:
        print(f"{label:<{width}}  {seconds:7.3f} s")
    print()
    for name, steps, survey_frame in (("pairwise survey", pairwise, frame), ("real/fake survey", judged, real_fake)):
        total = sum(seconds for _, seconds in steps)
        base = baseline(survey_frame if steps is pairwise else
                        survey_frame.assign(right_arm_id=-1, preferred_arm_id=survey_frame["correct"]))
        print(f"{'all of the ' + name:<{width}}  {total:7.3f} s   (target < 5 s; plain pandas group-by of the "
              f"counts {base:.3f} s, analysis / baseline {total / base:.1f}×)")

if __name__ == "__main__":
    main()

"""How long the analysis takes on a million responses, beside a plain pandas group-by.

Synthesises a timed pairwise survey (5 arms, 7 exposures, 10 000 participants × 100 trials, a few
invalid trials and excluded participants) as the responses frame analysis/selectors.py builds,
then times what the results page computes: the counting rules, the per-exposure pairwise table
(exact tests, both intervals, Holm), the arms table, position bias, and a Bradley–Terry fit with
1 000 participant-bootstrap rounds. The baseline is one pandas group-by that counts the same
wins with no statistics. Target: all of it under 5 s on 2 cores.

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
    p_left = 1 / (1 + np.exp(-(TRUE_SCORES[left] - TRUE_SCORES[right])))
    chose_left = rng.random(n) < p_left
    preferred = np.where(chose_left, left, right)
    participant = np.repeat(np.arange(participants), trials)
    excluded = rng.random(participants) < 0.03
    return pd.DataFrame({
        "response_id": np.arange(n), "participant_id": participant, "left_arm_id": left, "right_arm_id": right,
        "choice": np.where(chose_left, "left", "right"), "chosen_arm_id": preferred, "preferred_arm_id": preferred,
        "phase": np.where(rng.random(n) < 0.05, "attention", "main"), "exposure_ms": rng.choice(EXPOSURES, n).astype(float),
        "valid": rng.random(n) > 0.01, "participant_excluded": excluded[participant],
    })


def arms() -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i, label=f"arm {i}", position=i, is_real=i == 0, model_family="", iteration=None,
                            training_hours=None) for i in range(ARMS)]


def timed(label: str, results: list, function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    results.append((label, time.perf_counter() - start))
    return value


def analyse(frame: pd.DataFrame, rounds: int) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    counted, _ = timed("counting rules (phase, exclusions, validity)", steps, tables.counted_responses, frame)
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
    return steps


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
    print(f"{len(frame):,} synthetic responses: {options.participants:,} participants × {options.trials} trials, "
          f"{ARMS} arms, {len(EXPOSURES)} exposures\n")
    steps = analyse(frame, options.rounds)
    width = max(len(label) for label, _ in steps)
    for label, seconds in steps:
        print(f"{label:<{width}}  {seconds:7.3f} s")
    total = sum(seconds for _, seconds in steps)
    base = baseline(frame)
    print(f"{'all of the analysis':<{width}}  {total:7.3f} s   (target < 5 s)")
    print(f"{'plain pandas group-by of the wins':<{width}}  {base:7.3f} s   (analysis / baseline: {total / base:.1f}×)")


if __name__ == "__main__":
    main()

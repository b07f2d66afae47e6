"""The training loop: run a family's trainer, log, sample, checkpoint, report progress, honour cancel, resume.

A run directory holds ``options.json``, ``stats.jsonl``, ``samples/iter_NNNNNN.png`` and
``checkpoints/iter_NNNNNN.pt``. ``training_seconds`` counts wall-clock time inside training steps only
(data, forward, backward, optimiser); writing samples and checkpoints, evaluation and callbacks are excluded,
so runs with different sampling settings compare fairly. It is accumulated across resumes.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from generation.training.checkpoints import (
    CheckpointInfo, checkpoint_name, list_checkpoints, load_checkpoint, save_checkpoint,
)
from generation.training.device import pick_device
from generation.training.images import save_png
from generation.training.options import RESUMABLE_CHANGES, TrainOptions
from generation.training.trainers import trainer_class

SAMPLE_SEEDS = tuple(range(16))  # the fixed seeds of every sample grid, so grids compare across iterations
PROGRESS_INTERVAL_S = 0.5


class TrainingError(RuntimeError):
    """Training cannot go on (options that do not match the run's checkpoints, diverged losses)."""


@dataclass
class TrainingOutcome:
    """How a call to ``run_training`` ended; ``checkpoints`` are those this call wrote."""

    status: str  # "done" or "cancelled"
    iteration: int
    images_seen: int
    training_seconds: float
    checkpoints: list[CheckpointInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings for the researcher, e.g. a random-weight VGG
    resumed_from: int | None = None  # iteration of the checkpoint this call continued from


def run_training(
    options: TrainOptions | dict,
    run_dir: Path,
    *,
    dataset_root: Path,
    progress_fn: Callable[[dict], None] | None = None,
    abort_fn: Callable[[], bool] | None = None,
) -> TrainingOutcome:
    """Train ``options.iterations`` generator steps in ``run_dir``, continuing from its latest checkpoint."""
    if isinstance(options, dict):
        options = TrainOptions.from_dict(options)
    options.validate()
    run = _Run(options, Path(run_dir), Path(dataset_root), progress_fn)
    return run.train(abort_fn or (lambda: False))


def _options_differences(saved: dict, current: dict) -> list[str]:
    keys = sorted((set(saved) | set(current)) - set(RESUMABLE_CHANGES))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]


class _Run:
    """One call's worth of training in a run directory."""

    def __init__(self, options: TrainOptions, run_dir: Path, dataset_root: Path, progress_fn):
        self.options, self.run_dir, self.progress_fn = options, run_dir, progress_fn
        self.checkpoint_dir, self.samples_dir = run_dir / "checkpoints", run_dir / "samples"
        self.stats_path = run_dir / "stats.jsonl"
        run_dir.mkdir(parents=True, exist_ok=True)
        self.device = pick_device(options.device)
        self.trainer = trainer_class(options.family).build(options, dataset_root, self.device)
        self.images_seen, self.training_seconds = 0, 0.0
        self.written: list[CheckpointInfo] = []
        self.last_checkpoint_iteration: int | None = None
        self.losses: dict[str, float] = {}
        self.resumed_from = self._resume()
        self._write_options()
        self._speed_mark = self._log_mark = (self.trainer.iteration, self.training_seconds)
        self._last_progress = -math.inf
        self._last_speed: float | None = None

    # --- setup -------------------------------------------------------------------------------------------

    def _resume(self) -> int | None:
        found = list_checkpoints(self.checkpoint_dir)
        if not found:
            for note in self.trainer.notes:
                self._append_stats({"note": note})
            return None
        payload = load_checkpoint(found[-1])
        if payload.get("sampling_only"):
            raise TrainingError(
                f"{found[-1]} holds only the networks needed for sampling (a demo checkpoint): it can make "
                "pools but cannot be trained further; start a new run instead"
            )
        differences = _options_differences(payload["options"], self.options.to_dict())
        if differences:
            raise TrainingError(
                f"{self.run_dir} holds checkpoints trained with other options ({'; '.join(differences)}); "
                "resume with the same options or start a new run directory"
            )
        self.trainer.load_state(payload)
        self.images_seen, self.training_seconds = int(payload["images_seen"]), float(payload["training_seconds"])
        self.last_checkpoint_iteration = self.trainer.iteration
        self._truncate_stats(self.trainer.iteration)
        return self.trainer.iteration

    def _write_options(self) -> None:
        path = self.run_dir / "options.json"
        temporary = path.with_name(".options.json.tmp")
        temporary.write_text(json.dumps(self.options.to_dict(), indent=1) + "\n", encoding="utf-8")
        temporary.replace(path)

    def _truncate_stats(self, iteration: int) -> None:
        """Drop log lines a crashed process wrote after the checkpoint being resumed."""
        if not self.stats_path.is_file():
            return
        lines = self.stats_path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("iteration", 0) <= iteration]
        self.stats_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    # --- the loop ----------------------------------------------------------------------------------------

    def train(self, abort_fn: Callable[[], bool]) -> TrainingOutcome:
        trainer, status = self.trainer, "done"
        while trainer.iteration < self.options.iterations:
            if abort_fn():
                status = "cancelled"
                break
            self._timed_step()
            it = trainer.iteration
            if it % self.options.log_every == 0:
                self._log()
            sample = self._sample() if it % self.options.sample_every == 0 else None
            checkpoint = self._checkpoint() if it % self.options.checkpoint_every == 0 else None
            self._progress(force=bool(sample or checkpoint), sample=sample, checkpoint=checkpoint)
        return self._finish(status)

    def _timed_step(self) -> None:
        start = time.perf_counter()
        losses = self.trainer.step()
        self.training_seconds += time.perf_counter() - start
        self.images_seen += self.trainer.images_per_step
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            raise TrainingError(f"training diverged at iteration {self.trainer.iteration}: {', '.join(bad)} not finite")
        self.losses = losses

    def _finish(self, status: str) -> TrainingOutcome:
        it = self.trainer.iteration
        sample = checkpoint = None
        if status == "done" and it % self.options.log_every:
            self._log()
        if status == "done" and it % self.options.sample_every and it > (self.resumed_from or 0):
            sample = self._sample()
        if self.last_checkpoint_iteration != it:
            checkpoint = self._checkpoint()
        self._progress(force=True, sample=sample, checkpoint=checkpoint, status=status)
        return TrainingOutcome(
            status, it, self.images_seen, self.training_seconds, list(self.written), list(self.trainer.notes),
            self.resumed_from,
        )

    # --- outputs -----------------------------------------------------------------------------------------

    def _counters(self) -> dict:
        return {
            "iteration": self.trainer.iteration,
            "images_seen": self.images_seen,
            "training_seconds": self.training_seconds,
        }

    def _speed(self, mark: tuple[int, float]) -> float | None:
        """Iterations per training second since ``mark``; the previous figure when nothing ran since."""
        iterations, seconds = self.trainer.iteration - mark[0], self.training_seconds - mark[1]
        if iterations and seconds > 0:
            self._last_speed = iterations / seconds
        return self._last_speed

    def _append_stats(self, record: dict) -> None:
        with self.stats_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**self._counters(), **record}) + "\n")

    def _log(self) -> None:
        speed = self._speed(self._log_mark)
        self._log_mark = (self.trainer.iteration, self.training_seconds)
        self._append_stats({"losses": self.losses, "its_per_s": speed})

    def _sample(self) -> Path:
        grid = self.trainer.sample_grid(list(SAMPLE_SEEDS))
        path = save_png(self.samples_dir / f"iter_{self.trainer.iteration:06d}.png", grid)
        metrics = self.trainer.evaluate()
        if metrics:
            self._append_stats({"eval": metrics})
        return path

    def _checkpoint(self) -> CheckpointInfo:
        payload = {**self.trainer.state(), **self._counters(), "options": self.options.to_dict()}
        info = save_checkpoint(self.checkpoint_dir / checkpoint_name(self.trainer.iteration), payload)
        self.written.append(info)
        self.last_checkpoint_iteration = self.trainer.iteration
        return info

    def _progress(self, *, force: bool, sample=None, checkpoint=None, status: str | None = None) -> None:
        if self.progress_fn is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        speed = self._speed(self._speed_mark)
        self._speed_mark = (self.trainer.iteration, self.training_seconds)
        event = {
            **self._counters(), "iterations": self.options.iterations, "its_per_s": speed,
            "losses": dict(self.losses), "notes": list(self.trainer.notes),
        }
        if sample is not None:
            event["sample"] = sample
        if checkpoint is not None:
            event["checkpoint"] = checkpoint
        if status is not None:
            event["status"] = status
        self.progress_fn(event)

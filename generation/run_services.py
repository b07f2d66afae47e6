"""Workflows for training runs and the pools sampled from them.

Training: create and queue a run, execute it (on a worker, or in the terminal for ``manage.py train``),
cancel, resume. Sampling: make a pool from a checkpoint chosen by iteration, by training time or by
name, optionally super-resolved by an SRCNN run (DCGAN+SRCNN); and one pool per run at a matched budget.
The numeric work is in the pure packages ``generation.training`` and ``generation.datasets``.
"""
from __future__ import annotations

import io
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from evalsite.queueing import enqueue_on_commit
from generation import selectors
from generation.models import Checkpoint, ImagePool, PoolImport, TrainingRun
from generation.services import ImportReport, PoolImportError, pool_import, pool_name_taken_error
from generation.tasks import pool_generate_task, training_run_task

logger = logging.getLogger(__name__)

# Progress is written to the database at most this often; checkpoints and the end are always written.
PROGRESS_INTERVAL_S = 1.0
# How often a running training asks the database whether it was cancelled.
CANCEL_POLL_S = 1.0
# Images are sampled and handed to the import in chunks of this many.
SAMPLE_CHUNK = 64
BUDGETS = ("iterations", "hours")
LOST_WORKER = "Its worker stopped reporting progress; resuming continues from the last checkpoint."
INTERRUPTED = "Interrupted before it could save a checkpoint; resuming continues from the last one saved."


class TrainingRunError(Exception):
    """A training run cannot be created, cancelled or resumed as asked; the message says why."""


# --- training runs ---------------------------------------------------------------------------------


def training_run_create(
    *, family: str, options: dict | None = None, name: str = "", created_by=None, queue: bool = True
) -> TrainingRun:
    """Validate the options (family defaults filled in), record the run and, if ``queue``, queue it
    once the transaction commits. ``manage.py train`` passes ``queue=False`` and executes it itself."""
    from generation.training.options import OptionsError, options_for

    overrides = dict(options or {})
    if family == "crn" and settings.EVALSITE_VGG19_WEIGHTS:
        overrides.setdefault("family_options", {}).setdefault("vgg_weights", settings.EVALSITE_VGG19_WEIGHTS)
    try:
        opts = options_for(family, **overrides)
        opts.validate()
    except (OptionsError, TypeError) as exc:
        raise TrainingRunError(f"Invalid training options: {exc}") from None
    name = (name or "").strip() or _default_run_name(family, opts.dataset)
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                name=name,
                family=family,
                dataset=opts.dataset,
                options=opts.to_dict(),
                iterations=opts.iterations,
                created_by=created_by,
            )
            run.run_dir = str(Path(settings.EVALSITE_RUNS_DIR) / f"run-{run.pk:05d}")
            run.save(update_fields=["run_dir"])
    except IntegrityError:
        raise TrainingRunError(f'A training run named "{name}" already exists; choose another name.') from None
    if queue:
        enqueue_on_commit(training_run_task, run.pk)
    return run


def _default_run_name(family: str, dataset: str) -> str:
    return _free_name(TrainingRun, f"{family} on {dataset.removeprefix('bundled:')}")


def _free_name(model, stem: str) -> str:
    """``stem``, or ``stem (2)``, ``stem (3)`` … : the first name no row of ``model`` has."""
    taken = set(model.objects.filter(name__startswith=stem).values_list("name", flat=True))
    n = 1
    while (candidate := stem if n == 1 else f"{stem} ({n})") in taken:
        n += 1
    return candidate


def training_run_execute(
    *,
    run: TrainingRun,
    progress: Callable[[dict], None] | None = None,
    stop: Callable[[], bool] | None = None,
    slice_s: float | None = None,
    requeue_if_interrupted: bool = False,
) -> TrainingRun:
    """Train a queued run to its end (or until cancelled), resuming from its last checkpoint if it has
    one. Status, progress, checkpoints and errors are recorded on the run. ``stop`` is a second way to
    cancel besides the run's flag (the terminal's Ctrl-C). Does nothing if the run is not queued (another
    worker has it, or it was cancelled before it started), unless the worker that had it went silent long
    ago: then this call takes it over.

    For a Celery worker: after ``slice_s`` seconds the run stops with a checkpoint and is queued again,
    for a new task to continue; with ``requeue_if_interrupted`` a run interrupted mid-step (its worker
    shutting down) is left queued, for the task that the broker hands out again."""
    if not _claim(run):
        return run
    stopper = _Stopper(run, stop, slice_s)
    try:
        _record_missing_checkpoints(run)
        outcome = _train(run, progress, stopper)
        handed_over = stopper.reason == "slice" and not _cancel_seen(run)
    except _LostRun:
        logger.warning("training run %s was taken over by another worker; this one stops", run.pk)
        return _reloaded(run)
    except Exception as exc:
        _settle(run, status=TrainingRun.Status.FAILED, error=_describe_failure(run, exc))
    except BaseException:  # killed mid-step (a second Ctrl-C, a worker shutting down): not left "running"
        if requeue_if_interrupted:
            _settle(run, status=TrainingRun.Status.QUEUED, error="")
        else:
            _settle(run, status=TrainingRun.Status.FAILED, error=INTERRUPTED)
        raise
    else:
        _settle(
            run,
            status=_status_after(outcome.status, handed_over=handed_over),
            error="",
            iteration=outcome.iteration,
            images_seen=outcome.images_seen,
            training_seconds=outcome.training_seconds,
            notes=list(outcome.notes),
        )
        if handed_over:
            enqueue_on_commit(training_run_task, run.pk)
    return run


def _status_after(loop_status: str, *, handed_over: bool) -> str:
    if handed_over:
        return TrainingRun.Status.QUEUED
    return TrainingRun.Status.CANCELLED if loop_status == "cancelled" else TrainingRun.Status.DONE


class _LostRun(Exception):
    """The run is no longer this worker's: another one took it over (this one was silent too long), it
    was resumed after being marked cancelled, or it was deleted. Whatever this worker did is not recorded."""


def _claim(run: TrainingRun) -> bool:
    # A conditional UPDATE: of two workers handed the same run (a redelivery), one trains it. A run
    # still marked running whose progress stopped long ago lost its worker: the task redelivered after
    # that worker died may take it, and training resumes from its last checkpoint. ``started_at`` is the
    # claim's token: every later write is conditional on it, so a worker whose run was taken over (it was
    # only slow, not dead) stops at its next write instead of writing over the new worker's.
    now = timezone.now()
    claimable = Q(status=TrainingRun.Status.QUEUED) | _stale_running()
    claimed = TrainingRun.objects.filter(claimable, pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=now, finished_at=None, error="", updated_at=now
    )
    if claimed and run.status == TrainingRun.Status.RUNNING:
        logger.warning("training run %s: its worker went silent; taking it over from its last checkpoint", run.pk)
    run.refresh_from_db()
    return claimed == 1


def _stale_running() -> Q:
    silent_since = timezone.now() - timedelta(seconds=settings.EVALSITE_RUN_STALE_AFTER_S)
    return Q(status=TrainingRun.Status.RUNNING, updated_at__lt=silent_since)


def _mine(run: TrainingRun):
    """The run, while it is still this worker's claim (running, or marked cancelled while silent)."""
    return TrainingRun.objects.filter(
        pk=run.pk,
        started_at=run.started_at,
        status__in=[TrainingRun.Status.RUNNING, TrainingRun.Status.CANCELLED],
    )


def _settle(run: TrainingRun, **fields) -> None:
    """Record how this worker's turn on the run ended, unless the run is no longer its own."""
    now = timezone.now()
    fields.update(finished_at=None if fields["status"] == TrainingRun.Status.QUEUED else now, updated_at=now)
    if _mine(run).update(**fields):
        for key, value in fields.items():
            setattr(run, key, value)
    else:
        logger.warning("training run %s was taken over by another worker; its outcome here is dropped", run.pk)
        _reloaded(run)


def _reloaded(run: TrainingRun) -> TrainingRun:
    try:
        run.refresh_from_db()
    except TrainingRun.DoesNotExist:  # deleted while it trained
        pass
    return run


def _record_missing_checkpoints(run: TrainingRun) -> None:
    """A worker that died between saving a checkpoint and recording it left a file with no row; training
    resumes from that file, so it is recorded before training goes on."""
    from generation.training.checkpoints import CheckpointError, checkpoint_info, list_checkpoints, load_checkpoint

    latest = selectors.run_checkpoints(run=run).last()
    for path in list_checkpoints(Path(run.run_dir) / "checkpoints"):
        if latest is not None and int(path.stem.removeprefix("iter_")) <= latest.iteration:
            continue
        try:
            _record_checkpoint(run, checkpoint_info(path, load_checkpoint(path)))
        except CheckpointError:
            continue  # resuming from it reports the problem


def _train(run: TrainingRun, progress: Callable[[dict], None] | None, stopper: _Stopper):
    from generation.training.loop import run_training
    from generation.training.options import TrainOptions

    return run_training(
        TrainOptions.from_dict(run.options),
        Path(run.run_dir),
        dataset_root=_dataset_root(run),
        progress_fn=_ProgressRecorder(run, progress),
        abort_fn=stopper,
    )


def _describe_failure(run: TrainingRun, exc: Exception) -> str:
    from generation.datasets import DatasetError
    from generation.training.checkpoints import CheckpointError
    from generation.training.loop import TrainingError
    from generation.training.options import OptionsError

    if isinstance(exc, (DatasetError, OptionsError, CheckpointError, TrainingError)):
        return str(exc)
    # Recorded for the researcher, logged with the traceback for the operator.
    logger.exception("training run %s failed", run.pk)
    return f"Internal error: {type(exc).__name__}: {exc}"


class _ProgressRecorder:
    """Writes the training loop's progress events onto the run (throttled) and its checkpoints as rows.
    Each write is the run's heartbeat: a run silent for EVALSITE_RUN_STALE_AFTER_S lost its worker."""

    def __init__(self, run: TrainingRun, echo: Callable[[dict], None] | None):
        self.run, self.echo, self.last_write = run, echo, float("-inf")

    def __call__(self, event: dict) -> None:
        if self.echo:
            self.echo(event)
        checkpoint = event.get("checkpoint")
        now = time.monotonic()
        if checkpoint or event.get("sample") or now - self.last_write >= PROGRESS_INTERVAL_S:
            self.last_write = now
            self._write(event)
        if checkpoint:
            _record_checkpoint(self.run, checkpoint)

    def _write(self, event: dict) -> None:
        fields = {
            "iteration": event["iteration"],
            "images_seen": event["images_seen"],
            "training_seconds": event["training_seconds"],
            "its_per_s": event.get("its_per_s"),
            "losses": event.get("losses") or {},
        }
        if sample := event.get("sample"):
            fields["latest_sample"] = _relative(sample, self.run.run_dir)
        if notes := event.get("notes"):
            fields["notes"] = list(notes)
        if not _mine(self.run).update(updated_at=timezone.now(), **fields):
            raise _LostRun
        for key, value in fields.items():
            setattr(self.run, key, value)


def _record_checkpoint(run: TrainingRun, info) -> Checkpoint:
    checkpoint, _ = Checkpoint.objects.update_or_create(
        run=run,
        iteration=info.iteration,
        defaults={"images_seen": info.images_seen, "training_seconds": info.training_seconds, "path": str(info.path)},
    )
    return checkpoint


def _relative(path, root: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return ""


class _Stopper:
    """The training loop's ``abort_fn``: true once the run should stop, with a checkpoint. ``reason`` says
    why: "stop" (the terminal's Ctrl-C), "cancel" (the researcher's cancel, set in the database by the web
    process and read from it at most every CANCEL_POLL_S) or "slice" (this task's time is up)."""

    def __init__(self, run: TrainingRun, stop: Callable[[], bool] | None, slice_s: float | None):
        self.run, self.stop = run, stop
        self.deadline = None if slice_s is None else time.monotonic() + slice_s
        self.reason: str | None = None
        self.last_poll = float("-inf")
        self.asked = 0  # the loop asks once before each step

    def __call__(self) -> bool:
        if self.reason is None:
            self.reason = self._reason()
            self.asked += 1
        return self.reason is not None

    def _reason(self) -> str | None:
        if self.stop is not None and self.stop():
            return "stop"
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline and self.asked:
            return "slice"  # after one step at least: however short the slice, every task makes progress
        if now - self.last_poll >= CANCEL_POLL_S:
            self.last_poll = now
            if _cancel_seen(self.run):
                return "cancel"
        return None


def _cancel_seen(run: TrainingRun) -> bool:
    """Whether the researcher cancelled the run; raises _LostRun when it is no longer this worker's."""
    flags = _mine(run).values_list("status", "cancel_requested").first()
    if flags is None:
        raise _LostRun
    status, cancel_requested = flags
    return cancel_requested or status == TrainingRun.Status.CANCELLED


def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops at its next iteration, with a checkpoint;
    one whose worker stopped reporting long ago is marked cancelled at once, and can be resumed (should
    that worker be alive after all, it stops too, and records where it stopped)."""
    if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.CANCELLED, finished_at=timezone.now()
    ):
        run.refresh_from_db()
        return run
    if TrainingRun.objects.filter(_stale_running(), pk=run.pk).update(
        status=TrainingRun.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), error=LOST_WORKER
    ):
        run.refresh_from_db()
        return run
    if not TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(cancel_requested=True):
        run.refresh_from_db()
        raise TrainingRunError(f'"{run.name}" is {run.get_status_display().lower()}, not queued or running.')
    run.refresh_from_db()
    return run


def training_run_resume(*, run: TrainingRun, iterations: int | None = None, queue: bool = True) -> TrainingRun:
    """Queue a cancelled, failed or finished run again; it continues from its last checkpoint.
    ``iterations`` raises the run's target (a finished run needs a higher one to train further)."""
    run.refresh_from_db()
    if run.is_active:
        raise TrainingRunError(f'"{run.name}" is already {run.get_status_display().lower()}.')
    target = iterations if iterations is not None else run.iterations
    if target < run.iteration or (run.status == TrainingRun.Status.DONE and target <= run.iteration):
        raise TrainingRunError(
            f'"{run.name}" has trained {run.iteration} iterations; give a higher target to train further.'
        )
    run.options = {**run.options, "iterations": target}
    run.iterations, run.status, run.cancel_requested, run.error = target, TrainingRun.Status.QUEUED, False, ""
    run.save(update_fields=["options", "iterations", "status", "cancel_requested", "error", "updated_at"])
    if queue:
        enqueue_on_commit(training_run_task, run.pk)
    return run


# --- pools sampled from checkpoints ----------------------------------------------------------------


@dataclass(frozen=True)
class SamplingPlan:
    """What a generated pool is sampled from: a checkpoint, and optionally an SRCNN checkpoint after it."""

    run: TrainingRun
    checkpoint: Checkpoint
    srcnn: Checkpoint | None = None

    @property
    def label(self) -> str:
        return f"{self.run.name} + {self.srcnn.run.name}" if self.srcnn else self.run.name

    @property
    def model_family(self) -> str:
        return f"{self.run.family}+srcnn" if self.srcnn else self.run.family

    @property
    def training_seconds(self) -> float:
        # A DCGAN+SRCNN pipeline cost both trainings: its budget is their sum.
        return self.checkpoint.training_seconds + (self.srcnn.training_seconds if self.srcnn else 0.0)

    @property
    def checkpoint_label(self) -> str:
        paths = [self.checkpoint.path] + ([self.srcnn.path] if self.srcnn else [])
        return " + ".join(paths)

    def provenance(self, seed: int) -> dict:
        return {
            "model_family": self.model_family,
            "checkpoint": self.checkpoint_label,
            "iteration": self.checkpoint.iteration,
            "training_seconds": self.training_seconds,
            "seed": seed,
        }

    def as_json(self) -> dict:
        return {"checkpoint": self.checkpoint.pk, "srcnn_checkpoint": self.srcnn.pk if self.srcnn else None}


def sampling_plan(
    *,
    run: TrainingRun,
    at_iteration: int | None = None,
    at_hours: float | None = None,
    checkpoint: Checkpoint | None = None,
    srcnn_run: TrainingRun | None = None,
) -> SamplingPlan:
    """Choose the checkpoint a pool is sampled from: the latest one at or before ``at_iteration``, or
    within ``at_hours`` of training (counting the SRCNN run's time for DCGAN+SRCNN), or ``checkpoint``,
    or else the run's latest. Raises ``PoolImportError`` saying what is available when none fits."""
    if sum(x is not None for x in (at_iteration, at_hours, checkpoint)) > 1:
        raise PoolImportError("Choose at most one of: at an iteration, at a training time, a checkpoint.")
    srcnn = _srcnn_checkpoint(run, srcnn_run)
    if checkpoint is not None:
        if checkpoint.run_id != run.pk:
            raise PoolImportError(f'Checkpoint {checkpoint.pk} is not a checkpoint of "{run.name}".')
        chosen = checkpoint
    elif at_iteration is not None:
        chosen = selectors.checkpoint_at_iteration(run=run, iteration=at_iteration)
    elif at_hours is not None:
        spent_on_srcnn = srcnn.training_seconds if srcnn else 0.0
        chosen = selectors.checkpoint_within_seconds(run=run, seconds=at_hours * 3600 - spent_on_srcnn)
    else:
        chosen = selectors.run_checkpoints(run=run).last()
    if chosen is None:
        raise PoolImportError(_no_checkpoint_message(run, at_iteration=at_iteration, at_hours=at_hours))
    return SamplingPlan(run=run, checkpoint=chosen, srcnn=srcnn)


def _srcnn_checkpoint(run: TrainingRun, srcnn_run: TrainingRun | None) -> Checkpoint | None:
    if srcnn_run is None:
        return None
    if srcnn_run.family != "srcnn":
        raise PoolImportError(f'"{srcnn_run.name}" is a {srcnn_run.family} run, not an SRCNN run.')
    if run.family == "srcnn":
        raise PoolImportError("An SRCNN run super-resolves a generator's images; it generates none itself.")
    latest = selectors.run_checkpoints(run=srcnn_run).last()
    if latest is None:
        raise PoolImportError(f'The SRCNN run "{srcnn_run.name}" has no checkpoint yet.')
    return latest


def _no_checkpoint_message(run: TrainingRun, *, at_iteration, at_hours) -> str:
    available = list(selectors.run_checkpoints(run=run).values_list("iteration", "training_seconds"))
    if not available:
        return f'"{run.name}" has no checkpoint yet.'
    listed = ", ".join(f"{it} ({secs / 3600:.3g} h)" for it, secs in available[:12])
    more = f" and {len(available) - 12} more" if len(available) > 12 else ""
    wanted = f"at or before iteration {at_iteration}" if at_iteration is not None else f"within {at_hours:.4g} h"
    return f'"{run.name}" has no checkpoint {wanted}. Its checkpoints (iteration, training time): {listed}{more}.'


def pool_generate(
    *,
    plan: SamplingPlan,
    images: int,
    name: str = "",
    seed: int = 0,
    created_by=None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Sample ``images`` images (seeds ``seed`` … ``seed + images − 1``, one per image) and import them
    as a generated pool whose provenance records the model, checkpoint, iteration, training time and seed."""
    if images < 1:
        raise PoolImportError("Ask for at least one image.")
    sampler = _load_sampler(plan)
    name = (name or "").strip() or default_pool_name(plan)
    return pool_import(
        name=name,
        source=_SampledImages(sampler, range(seed, seed + images)),
        kind=ImagePool.Kind.GENERATED,
        created_by=created_by,
        provenance=plan.provenance(seed),
        progress=progress,
    )


def default_pool_name(plan: SamplingPlan) -> str:
    return _free_name(ImagePool, f"{plan.label} @ {plan.checkpoint.iteration} it")


def _load_sampler(plan: SamplingPlan):
    from generation.datasets import DatasetError
    from generation.training.checkpoints import CheckpointError
    from generation.training.device import pick_device
    from generation.training.sampling import Pipeline, load_sampler

    device = pick_device("auto")
    try:
        dataset_root = _dataset_root_for_sampling(plan.run)
        sampler = load_sampler(plan.checkpoint.path, device=device, dataset_root=dataset_root)
        if plan.srcnn:
            sampler = Pipeline(sampler, load_sampler(plan.srcnn.path, device=device))
    except (CheckpointError, DatasetError, FileNotFoundError) as exc:
        raise PoolImportError(f"Cannot sample from {plan.checkpoint_label}: {exc}") from None
    return sampler


def _dataset_root_for_sampling(run: TrainingRun) -> Path | None:
    """The run's dataset folder where its sampler reads it (CRN's layouts, SimGAN's synthetic images);
    None for the families that sample from noise, so their dataset need not be found or built."""
    from generation.training.options import TrainOptions
    from generation.training.trainers import family_module

    options = TrainOptions.from_dict(run.options)
    return _dataset_root(run) if family_module(run.family).SAMPLER.needs_dataset(options) else None


def _dataset_root(run: TrainingRun) -> Path:
    """The run's dataset folder: a bundled set is built into the cache on first use."""
    from generation.datasets.bundled import resolve_dataset

    return resolve_dataset(run.dataset, cache_dir=Path(settings.EVALSITE_DATASETS_DIR))


class _SampledImages:
    """(file name, PNG bytes, seed) for each seed, sampled lazily in chunks: a sized iterable, so the
    import reports progress, and a big pool never sits in memory at once."""

    def __init__(self, sampler, seeds: range):
        self.sampler, self.seeds = sampler, seeds

    def __len__(self) -> int:
        return len(self.seeds)

    def __iter__(self) -> Iterator[tuple[str, bytes, int]]:
        for start in range(0, len(self.seeds), SAMPLE_CHUNK):
            chunk = list(self.seeds[start : start + SAMPLE_CHUNK])
            for seed, pixels in zip(chunk, self.sampler.images(chunk)):
                yield f"seed-{seed}.png", _png(pixels), seed


def _png(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def pool_generate_queue(
    *, plan: SamplingPlan, images: int, name: str = "", seed: int = 0, created_by=None
) -> PoolImport:
    """Record a pool sampling job and queue it once the transaction commits; its progress shows on the
    import status page like an upload's."""
    if images < 1:
        raise PoolImportError("Ask for at least one image.")
    name = (name or "").strip() or default_pool_name(plan)
    if selectors.pool_name_taken(name=name):
        raise pool_name_taken_error(name)
    record = PoolImport.objects.create(
        pool_name=name,
        kind=ImagePool.Kind.GENERATED,
        generate={"run": plan.run.pk, "images": images, "seed": seed, **plan.as_json()},
        files_total=images,
        created_by=created_by,
    )
    enqueue_on_commit(pool_generate_task, record.pk)
    return record


def pool_generate_for_record(*, record: PoolImport, progress: Callable[[int, int], None]) -> ImportReport:
    """Run the sampling job that ``pool_generate_queue`` recorded (called by ``pool_import_run``)."""
    spec = record.generate
    checkpoint = Checkpoint.objects.select_related("run").filter(pk=spec.get("checkpoint")).first()
    srcnn = Checkpoint.objects.select_related("run").filter(pk=spec.get("srcnn_checkpoint")).first()
    if checkpoint is None or (spec.get("srcnn_checkpoint") and srcnn is None):
        raise PoolImportError("The checkpoint to sample from has been deleted.")
    plan = SamplingPlan(run=checkpoint.run, checkpoint=checkpoint, srcnn=srcnn)
    return pool_generate(
        plan=plan,
        images=spec["images"],
        name=record.pool_name,
        seed=spec.get("seed", 0),
        created_by=record.created_by,
        progress=progress,
    )


# --- matched budgets ------------------------------------------------------------------------------


def matched_budget_plans(
    *, entries: list[tuple[TrainingRun, TrainingRun | None]], by: str, value: float | None = None
) -> tuple[float, list[SamplingPlan]]:
    """One sampling plan per (run, optional SRCNN run) at an equal budget: ``by`` "iterations" or
    "hours". Without ``value`` the budget is the largest every entry has reached. Every entry is
    checked before anything is made: either all plans, or a ``PoolImportError`` naming the ones that fail."""
    if by not in BUDGETS:
        raise PoolImportError(f"Match budgets by one of: {', '.join(BUDGETS)}.")
    if len(entries) < 2:
        raise PoolImportError("Choose at least two runs to match.")
    if value is None:
        value = min(_reached(run, srcnn, by) for run, srcnn in entries)
    plans, problems = [], []
    for run, srcnn in entries:
        try:
            plans.append(
                sampling_plan(
                    run=run,
                    srcnn_run=srcnn,
                    at_iteration=int(value) if by == "iterations" else None,
                    at_hours=value if by == "hours" else None,
                )
            )
        except PoolImportError as exc:
            problems.append((run.name, exc.summary))
    if problems:
        raise PoolImportError(f"No matching checkpoint for {len(problems)} of the runs:", problems)
    return value, plans


def _reached(run: TrainingRun, srcnn: TrainingRun | None, by: str) -> float:
    latest = selectors.run_checkpoints(run=run).last()
    if latest is None:
        raise PoolImportError(f'"{run.name}" has no checkpoint yet.')
    if by == "iterations":
        return latest.iteration
    plan = SamplingPlan(run=run, checkpoint=latest, srcnn=_srcnn_checkpoint(run, srcnn))
    return plan.training_seconds / 3600


def matched_pool_name(plan: SamplingPlan, *, by: str, value: float, prefix: str = "") -> str:
    budget = f"{int(value)} it" if by == "iterations" else f"{value:.4g} h"
    return f"{prefix}{plan.label} @ equal {by} ({budget})"


# --- the demo's pretrained checkpoints -------------------------------------------------------------


def demo_run_install(*, model, created_by=None) -> TrainingRun:
    """Register a shipped demo checkpoint (``generation.demo_models``) as a finished training run, its
    files copied into the runs folder (so the repository's copy is never written to). Idempotent."""
    from generation.demo_models import CHECKPOINT, COPIED, SAMPLE
    from generation.training.checkpoints import checkpoint_info, checkpoint_name, load_checkpoint

    if existing := TrainingRun.objects.filter(name=model.run_name).first():
        return existing
    payload = load_checkpoint(model.folder / CHECKPOINT)
    run_dir = Path(settings.EVALSITE_RUNS_DIR) / f"demo-{model.key}"
    checkpoint_path = run_dir / "checkpoints" / checkpoint_name(int(payload["iteration"]))
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model.folder / CHECKPOINT, checkpoint_path)
    for name in COPIED:
        if (model.folder / name).is_file():
            shutil.copyfile(model.folder / name, run_dir / name)
    options = json.loads((model.folder / "options.json").read_text(encoding="utf-8"))
    with transaction.atomic():
        run = TrainingRun.objects.create(
            name=model.run_name,
            family=model.family,
            dataset=options["dataset"],
            options=options,
            status=TrainingRun.Status.DONE,
            iterations=int(payload["iteration"]),
            iteration=int(payload["iteration"]),
            images_seen=int(payload["images_seen"]),
            training_seconds=float(payload["training_seconds"]),
            latest_sample=SAMPLE if (run_dir / SAMPLE).is_file() else "",
            notes=[*payload.get("notes", []), f"Pretrained demo checkpoint, made by: manage.py {model.made_by}"],
            run_dir=str(run_dir),
            finished_at=timezone.now(),
            created_by=created_by,
        )
        _record_checkpoint(run, checkpoint_info(checkpoint_path, payload))
    return run

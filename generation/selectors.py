"""Reads for image pools and training runs: what the researcher pages, commands and the image view show."""
import json
from pathlib import Path

from django.db.models import Count, QuerySet

from generation.models import Checkpoint, ImagePool, PoolImage, TrainingRun

# A loss chart needs no more points than a screen has pixels across.
STATS_POINTS = 1000


def pool_list() -> QuerySet[ImagePool]:
    return ImagePool.objects.annotate(image_count=Count("images"))


def pool_images(*, pool: ImagePool) -> QuerySet[PoolImage]:
    return pool.images.only("public_id", "source_name", "width", "height", "pool_id")


def pool_name_taken(*, name: str) -> bool:
    return ImagePool.objects.filter(name=name.strip()).exists()


def image_by_public_id(*, public_id: str) -> PoolImage | None:
    return PoolImage.objects.only("public_id", "file").filter(public_id=public_id).first()


def image_png(*, image: PoolImage) -> bytes | None:
    """The stored PNG, or None if its file has gone missing from storage."""
    try:
        with image.file.open("rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None



def run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.annotate(checkpoint_count=Count("checkpoints"))


def run_find(*, ref: str | int) -> TrainingRun | None:
    """A run by id or by name, as the commands take it."""
    ref = str(ref).strip()
    if ref.isdigit():
        found = TrainingRun.objects.filter(pk=int(ref)).first()
        if found:
            return found
    return TrainingRun.objects.filter(name=ref).first()


def run_checkpoints(*, run: TrainingRun) -> QuerySet[Checkpoint]:
    return run.checkpoints.order_by("iteration")


def checkpoint_at_iteration(*, run: TrainingRun, iteration: int) -> Checkpoint | None:
    """The latest checkpoint at or before ``iteration``."""
    return run.checkpoints.filter(iteration__lte=iteration).order_by("-iteration").first()


# Budgets arrive in hours and are compared in seconds: secs / 3600 * 3600 can come back a hair below
# secs, which would miss the very checkpoint a budget was read from. A millisecond is no budget.
SECONDS_TOLERANCE = 1e-3


def checkpoint_within_seconds(*, run: TrainingRun, seconds: float) -> Checkpoint | None:
    """The latest checkpoint whose training time is at most ``seconds`` (to the millisecond)."""
    within = run.checkpoints.filter(training_seconds__lte=seconds + SECONDS_TOLERANCE)
    return within.order_by("-training_seconds", "-iteration").first()


def run_stats(*, run: TrainingRun, points: int = STATS_POINTS) -> list[dict]:
    """The run's logged losses and speed (stats.jsonl), thinned evenly to at most ``points`` rows."""
    path = Path(run.run_dir) / "stats.jsonl" if run.run_dir else None
    if not path or not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written right now
                continue
    step = max(1, -(-len(rows) // points))
    return rows[::step] if rows[-1:] == rows[::step][-1:] else rows[::step] + rows[-1:]


def run_file(*, run: TrainingRun, relative: str) -> Path | None:
    """A file inside the run's folder (a sample grid), or None; never a path outside it."""
    if not run.run_dir or not relative:
        return None
    root = Path(run.run_dir).resolve()
    path = (root / relative).resolve()
    return path if path.is_file() and root in path.parents else None

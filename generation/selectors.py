"""Reads for image pools and training runs: what the researcher pages, commands and the image view show."""
import json
from pathlib import Path

from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404

from generation.models import Checkpoint, ImagePool, PoolImage, PoolImport, TrainingRun

# A loss chart needs no more points than a screen has pixels across.
STATS_POINTS = 1000


def owned_by(queryset: QuerySet, *, user) -> QuerySet:
    """The rows of ``queryset`` that ``user`` may see and act on: those they created; a superuser, every row
    (rows with no owner, made before owners were recorded or by a command without --owner, included)."""
    if not user.is_authenticated:
        return queryset.none()
    return queryset if user.is_superuser else queryset.filter(created_by=user)


def pool_list() -> QuerySet[ImagePool]:
    # Explicit order: Django ignores Meta.ordering once a query groups.
    return ImagePool.objects.annotate(image_count=Count("images")).order_by("name")


def pool_list_for_researcher(*, user) -> QuerySet[ImagePool]:
    return owned_by(pool_list(), user=user)


def pool_for_researcher(*, user, pk: int) -> ImagePool:
    """The pool, if ``user`` may see it; Http404 otherwise, so that others' pools look like no pool at all."""
    return get_object_or_404(pool_list_for_researcher(user=user).select_related("created_by"), pk=pk)


def pool_import_list_for_researcher(*, user) -> QuerySet[PoolImport]:
    return owned_by(PoolImport.objects.select_related("pool"), user=user)


def pool_import_for_researcher(*, user, pk: int) -> PoolImport:
    return get_object_or_404(pool_import_list_for_researcher(user=user), pk=pk)


def pool_images(*, pool: ImagePool) -> QuerySet[PoolImage]:
    return pool.images.only("public_id", "source_name", "width", "height", "pool_id")


def pool_name_taken(*, name: str) -> bool:
    return ImagePool.objects.filter(name=name.strip()).exists()


# What serving an image reads of it (generation.image_serving).
SERVED_IMAGE_FIELDS = ("public_id", "file", "pool_id", "width", "height")


def image_for_researcher(*, user, public_id: str) -> PoolImage | None:
    """The image ``public_id`` if its pool is one ``user`` may see, else None (one query)."""
    visible_pools = owned_by(ImagePool.objects.all(), user=user)
    return PoolImage.objects.only(*SERVED_IMAGE_FIELDS).filter(public_id=public_id, pool__in=visible_pools).first()


def image_size_class(*, image: PoolImage) -> tuple[int, int]:
    """The (width, height) ``image`` is served at: its pool's size class."""
    return pool_size_class(pool_id=image.pool_id) or (image.width, image.height)


def pool_size_class(*, pool_id: int) -> tuple[int, int] | None:
    """The (width, height) every image of the pool is served at: the largest width and the largest height
    among the images of the pool and of every pool linked to it through surveys (transitively, so that every
    survey's images share one size even when a pool takes part in several surveys). None for an empty pool."""
    pools = _pools_linked_through_surveys(pool_id=pool_id)
    largest = PoolImage.objects.filter(pool_id__in=pools).aggregate(width=Max("width"), height=Max("height"))
    return (largest["width"], largest["height"]) if largest["width"] else None


def _pools_linked_through_surveys(*, pool_id: int) -> set[int]:
    from surveys.models import SurveyArm  # surveys depends on generation, not the other way round

    pools, frontier = {pool_id}, {pool_id}
    while frontier:
        surveys = SurveyArm.objects.filter(pool_id__in=frontier).values("survey_id")
        linked = set(SurveyArm.objects.filter(survey_id__in=surveys).values_list("pool_id", flat=True))
        frontier = linked - pools
        pools |= linked
    return pools


def image_png(*, image: PoolImage) -> bytes | None:
    """The stored PNG, or None if its file has gone missing from storage."""
    try:
        with image.file.open("rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None



def run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.annotate(checkpoint_count=Count("checkpoints")).order_by("-created_at")


def run_list_for_researcher(*, user) -> QuerySet[TrainingRun]:
    return owned_by(run_list(), user=user)


def run_for_researcher(*, user, pk: int) -> TrainingRun:
    """The run, if ``user`` may see it; Http404 otherwise (never 403: that would say the run exists)."""
    return get_object_or_404(run_list_for_researcher(user=user), pk=pk)


def runs_with_checkpoints_for_researcher(*, user) -> QuerySet[TrainingRun]:
    """The runs ``user`` may sample from: theirs (a superuser's: all) that have saved a checkpoint."""
    return owned_by(TrainingRun.objects.filter(checkpoints__isnull=False).distinct(), user=user)


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

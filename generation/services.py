"""Workflows for image pools: importing images into a new pool, directly or as a queued job."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from evalsite.queueing import enqueue_on_commit
from generation import imaging, selectors
from generation.models import ImagePool, PoolImage, PoolImport
from generation.tasks import pool_import_task

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
PROVENANCE_FIELDS = ("model_family", "checkpoint", "iteration", "training_seconds", "seed")
# Progress of a queued import is written at most this often, so that a big import is not one UPDATE per file.
PROGRESS_INTERVAL_S = 1.0
WORKER_DIED = "Its first worker stopped mid-import; another worker started it again."
WORKERS_DIED = "Two workers stopped mid-import (killed, or out of memory); nothing was imported. Try again."


class PoolImportError(Exception):
    """Nothing was imported. ``problems`` lists (file name, reason) for every bad file found."""

    def __init__(self, summary: str, problems: Iterable[tuple[str, str]] = ()):
        self.summary = summary
        self.problems = list(problems)
        super().__init__("\n".join([summary, *(f"  {name}: {reason}" for name, reason in self.problems)]))


@dataclass
class ImportReport:
    pool: ImagePool | None = None
    imported: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (name, name of the identical image kept)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    ignored: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "pool_id": self.pool.pk if self.pool else None,
            "imported": self.imported,
            "duplicates": [list(pair) for pair in self.duplicates],
            "rejected": [list(pair) for pair in self.rejected],
            "ignored": self.ignored,
        }


@dataclass(frozen=True)
class _Staged:
    """A canonical PNG checked in phase 1, waiting in the temporary folder for phase 2."""

    name: str
    path: Path
    sha256: str
    width: int
    height: int
    seed: int | None = None


# --- importing -------------------------------------------------------------------------------------


def pool_import(
    *,
    name: str,
    source: str | os.PathLike | Iterable[tuple[str, bytes]] | Iterable[tuple[str, bytes, int]],
    kind: str = ImagePool.Kind.IMPORTED,
    skip_bad: bool = False,
    created_by=None,
    provenance: dict | None = None,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Create the pool ``name`` from a folder, a .zip, one image file, or ``(name, bytes)`` pairs
    (``(name, bytes, seed)`` for images sampled by our models: the seed is stored with the image).

    Phase 1 checks and canonicalises every file; any bad file (unless ``skip_bad``) raises
    ``PoolImportError`` listing all of them, and nothing is created. Phase 2 stores the pool in one
    transaction and removes the files it wrote if that fails. Call it outside a transaction that might
    roll back later: files written by a successful call would then outlive their rows.
    """
    name = name.strip()
    provenance = provenance or {}
    _check_import_args(name=name, kind=kind, provenance=provenance)
    with tempfile.TemporaryDirectory(prefix="pool-import-") as folder:
        report, staged = _stage_all(_entries(source), folder=Path(folder), progress=progress)
        _check_staged(report, staged, skip_bad=skip_bad)
        report.pool = _store_pool(
            name=name, kind=kind, created_by=created_by, provenance=provenance, staged=staged
        )
    return report


def _check_import_args(*, name: str, kind: str, provenance: dict) -> None:
    if not name:
        raise PoolImportError("A pool needs a name.")
    if len(name) > (longest := ImagePool._meta.get_field("name").max_length):
        raise PoolImportError(f"A pool name can have at most {longest} characters.")
    if kind not in ImagePool.Kind.values:
        raise PoolImportError(f"Unknown pool kind {kind!r} (expected one of {', '.join(ImagePool.Kind.values)}).")
    if unknown := set(provenance) - set(PROVENANCE_FIELDS):
        raise PoolImportError(f"Unknown provenance fields: {', '.join(sorted(unknown))}.")
    # Checked before the slow phase 1; checked again by the database in phase 2.
    if selectors.pool_name_taken(name=name):
        raise pool_name_taken_error(name)


def pool_name_taken_error(name: str) -> PoolImportError:
    return PoolImportError(f'A pool named "{name}" already exists; choose another name.')


def _entries(source) -> Iterator[imaging.SourceEntry]:
    if isinstance(source, (str, os.PathLike)):
        return imaging.iter_source(
            Path(source),
            max_files=settings.EVALSITE_MAX_IMPORT_FILES,
            max_bytes=settings.EVALSITE_MAX_IMPORT_BYTES,
        )
    return _pair_entries(source)


def _pair_entries(pairs: Iterable[tuple]) -> Iterator[imaging.SourceEntry]:
    # Images made in memory by our own code (sampler, demo): no file-name rules, their content is checked.
    total = len(pairs) if isinstance(pairs, Sized) else 0
    for name, data, *seed in pairs:
        yield imaging.SourceEntry(name, total=total, data=data, seed=seed[0] if seed else None)


def _stage_all(
    entries: Iterator[imaging.SourceEntry], *, folder: Path, progress: ProgressFn | None
) -> tuple[ImportReport, list[_Staged]]:
    report, staged, first_name_by_sha = ImportReport(), [], {}
    try:
        for done, entry in enumerate(entries, start=1):
            _stage_one(entry, folder=folder, report=report, staged=staged, first_name_by_sha=first_name_by_sha)
            if progress:
                progress(done, max(entry.total, done))
    except imaging.BadSource as exc:
        raise PoolImportError(f"Cannot import {exc}.") from None
    return report, staged


def _stage_one(
    entry: imaging.SourceEntry, *, folder: Path, report: ImportReport, staged: list, first_name_by_sha: dict
) -> None:
    if entry.ignored:
        report.ignored.append(entry.name)
        return
    if entry.problem:
        report.rejected.append((entry.name, entry.problem))
        return
    try:
        image = imaging.canonical_png(entry.data, name=entry.name, max_pixels=settings.EVALSITE_MAX_IMAGE_PIXELS)
    except imaging.BadImage as exc:
        report.rejected.append((exc.name, exc.reason))
        return
    if first := first_name_by_sha.get(image.sha256):
        report.duplicates.append((entry.name, first))
        return
    first_name_by_sha[image.sha256] = entry.name
    # On disk, not in memory: a pool of thousands of images must not have to fit in RAM.
    path = folder / f"{len(staged):07d}.png"
    path.write_bytes(image.png)
    staged.append(_Staged(entry.name, path, image.sha256, image.width, image.height, entry.seed))
    report.imported.append(entry.name)


def _check_staged(report: ImportReport, staged: list[_Staged], *, skip_bad: bool) -> None:
    if report.rejected and not skip_bad:
        count = len(report.rejected)
        raise PoolImportError(
            f"{count} file{'s' if count != 1 else ''} cannot be imported; nothing was imported:", report.rejected
        )
    if not staged:
        raise PoolImportError("No valid image found; nothing was imported.", report.rejected)


def _store_pool(*, name: str, kind: str, created_by, provenance: dict, staged: list[_Staged]) -> ImagePool:
    written: list[str] = []
    try:
        with transaction.atomic():
            pool = ImagePool.objects.create(
                name=name,
                kind=kind,
                created_by=created_by,
                fingerprint=imaging.pool_fingerprint(item.sha256 for item in staged),
                **provenance,
            )
            images = [_stored_image(pool, item, written=written) for item in staged]
            PoolImage.objects.bulk_create(images, batch_size=500)
    except BaseException as exc:
        # Nothing half-imported stays behind: the rows roll back, the files go here.
        for stored_name in written:
            default_storage.delete(stored_name)
        if isinstance(exc, IntegrityError) and selectors.pool_name_taken(name=name):
            raise pool_name_taken_error(name) from None
        raise
    return pool


def _stored_image(pool: ImagePool, item: _Staged, *, written: list[str]) -> PoolImage:
    image = PoolImage(
        pool=pool, sha256=item.sha256, width=item.width, height=item.height, source_name=item.name, seed=item.seed
    )
    with item.path.open("rb") as fh:
        image.file.save("image.png", File(fh), save=False)  # upload_to names it by the opaque public_id
    written.append(image.file.name)
    return image


# --- queued imports (the researcher upload page) --------------------------------------------------


def pool_import_queue(
    *,
    pool_name: str,
    kind: str,
    skip_bad: bool,
    archive: File | None = None,
    images: Sequence[File] = (),
    created_by=None,
) -> PoolImport:
    """Record an import of an uploaded zip (or of image files, packed into one zip) and queue it
    once the surrounding transaction commits."""
    record = PoolImport(pool_name=pool_name.strip(), kind=kind, skip_bad=skip_bad, created_by=created_by)
    if archive is not None:
        record.upload.save("upload.zip", archive, save=False)
    else:
        with _zip_of(images) as packed:
            record.upload.save("upload.zip", packed, save=False)
    record.save()
    enqueue_on_commit(pool_import_task, record.pk)
    return record


@contextmanager
def _zip_of(files: Sequence[File]) -> Iterator[File]:
    # ZIP_STORED: the images are compressed already; the zip only keeps their names together.
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            for name, upload in zip(_unique_names([f.name for f in files]), files):
                with archive.open(name, "w", force_zip64=True) as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
        tmp.seek(0)
        yield File(tmp, name="upload.zip")


def _unique_names(names: list[str]) -> list[str]:
    """Browsers send base names only, so two folders' "image.png" must not collide in the zip."""
    seen: set[str] = set()
    unique = []
    for name in names:
        stem, suffix = os.path.splitext(name)
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem} ({n}){suffix}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def pool_import_run(*, pool_import: PoolImport, redelivered: bool = False) -> None:
    """Run a queued import: status running → done/failed, with progress, report and error recorded.
    The uploaded file is deleted afterwards either way. Does nothing if it finished, or if another worker
    took it. ``redelivered``: the broker handed this task out again, which it does only once the worker
    that had it died; an import that worker left running starts again (once: a second death fails it)."""
    if not _claim(pool_import) and not (redelivered and _take_over(pool_import)):
        return
    try:
        _run_claimed(pool_import)
    finally:
        _finish(pool_import)


def _finish(record: PoolImport) -> None:
    record.upload.delete(save=False)
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "report", "error", "pool", "upload", "finished_at"])


def _claim(record: PoolImport) -> bool:
    # A conditional UPDATE: of two workers given the same task (a redelivery), one wins.
    claimed = PoolImport.objects.filter(pk=record.pk, status=PoolImport.Status.QUEUED).update(
        status=PoolImport.Status.RUNNING
    )
    if claimed:
        record.status = PoolImport.Status.RUNNING
    return claimed == 1


def _take_over(record: PoolImport) -> bool:
    # Phase 2 is one transaction, so a worker that died left no pool behind: the import starts again.
    # (Had it died in the instant between that commit and saving this record, the name is taken now,
    # and the second try fails saying so.) An import two workers died on (an image that kills workers)
    # is not tried a third time.
    running = PoolImport.objects.filter(pk=record.pk, status=PoolImport.Status.RUNNING)
    if running.filter(error=WORKER_DIED).update(status=PoolImport.Status.FAILED, error=WORKERS_DIED):
        record.refresh_from_db()
        _finish(record)
        return False
    taken = running.exclude(error=WORKER_DIED).update(error=WORKER_DIED)
    if taken:
        record.status, record.error = PoolImport.Status.RUNNING, WORKER_DIED
    return taken == 1


def _run_claimed(record: PoolImport) -> None:
    try:
        report = _import_recorded(record)
    except PoolImportError as exc:
        record.status, record.error = PoolImport.Status.FAILED, str(exc)
        record.report = {"summary": exc.summary, "rejected": [list(pair) for pair in exc.problems]}
    except Exception as exc:
        # Recorded for the researcher, logged with the traceback for the operator.
        logger.exception("pool import %s failed", record.pk)
        record.status, record.error = PoolImport.Status.FAILED, f"Internal error: {exc}"
    else:
        record.status, record.pool, record.report = PoolImport.Status.DONE, report.pool, report.as_json()
        record.error = ""  # the note of a takeover, if any


def _import_recorded(record: PoolImport) -> ImportReport:
    if record.generate:
        from generation.run_services import pool_generate_for_record  # it builds on this module

        return pool_generate_for_record(record=record, progress=_progress_recorder(record))
    with _local_path(record.upload) as path:
        return pool_import(
            name=record.pool_name,
            source=path,
            kind=record.kind,
            skip_bad=record.skip_bad,
            created_by=record.created_by,
            progress=_progress_recorder(record),
        )


@contextmanager
def _local_path(upload: FieldFile) -> Iterator[Path]:
    """The upload as a local file: in place on file-system storage, else a temporary copy."""
    if not upload:
        raise PoolImportError("The import has no uploaded file.")
    try:
        local = upload.path
    except NotImplementedError:  # remote storage
        local = None
    if local:
        yield Path(local)
        return
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as tmp, upload.open("rb") as fh:
        shutil.copyfileobj(fh, tmp)
        tmp.flush()
        yield Path(tmp.name)


def _progress_recorder(record: PoolImport) -> ProgressFn:
    last_write = [float("-inf")]

    def record_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last_write[0] < PROGRESS_INTERVAL_S:
            return
        last_write[0] = now
        record.files_done, record.files_total = done, total
        PoolImport.objects.filter(pk=record.pk).update(files_done=done, files_total=total)

    return record_progress

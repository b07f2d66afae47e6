import hashlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from generation.imaging import pool_fingerprint
from generation.models import ImagePool, PoolImage, PoolImport
from generation.services import PoolImportError, pool_import, pool_import_run
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes, write_images

pytestmark = pytest.mark.django_db


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "src"
    write_images(path, 3, prefix="ok")
    return path


def test_folder_import_creates_pool_with_canonical_files(folder, settings, researcher):
    report = pool_import(name="cats", source=folder, created_by=researcher)
    pool = report.pool
    assert (pool.name, pool.kind, pool.created_by) == ("cats", "imported", researcher)
    assert report.imported == ["ok_000.png", "ok_001.png", "ok_002.png"]
    assert (report.duplicates, report.rejected, report.ignored) == ([], [], [])
    images = list(pool.images.all())
    assert [i.source_name for i in images] == report.imported
    for image in images:
        assert image.file.name == f"pool_images/{image.public_id}.png"
        stored = Path(image.file.path).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == image.sha256
        assert (image.width, image.height) == (16, 16)
    assert len(media_files(settings)) == 3


def test_one_bad_file_imports_nothing_and_names_it(folder, settings):
    (folder / "broken.png").write_bytes(image_bytes(size=(32, 32), seed=9)[:100])
    (folder / "notes.txt").write_text("hi")
    with pytest.raises(PoolImportError) as caught:
        pool_import(name="cats", source=folder)
    message = str(caught.value)
    assert "broken.png: truncated image data" in message
    assert "notes.txt: unsupported file type" in message
    assert caught.value.problems[0][0] == "broken.png"
    assert not ImagePool.objects.exists()
    assert media_files(settings) == []


def test_skip_bad_imports_the_rest_and_reports_the_bad(folder):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    report = pool_import(name="cats", source=folder, skip_bad=True)
    assert report.pool.images.count() == 3
    assert [name for name, _ in report.rejected] == ["broken.png"]
    assert "broken.png" not in report.imported


def test_duplicates_are_stored_once_and_reported(tmp_path):
    (tmp_path / "a.png").write_bytes(image_bytes(seed=1))
    (tmp_path / "b.png").write_bytes(image_bytes(seed=1))
    # Same pixels in another format: canonicalisation makes it the same image too.
    (tmp_path / "c.webp").write_bytes(image_bytes("WEBP", seed=1, lossless=True))
    (tmp_path / "d.png").write_bytes(image_bytes(seed=2))
    report = pool_import(name="dups", source=tmp_path)
    assert report.imported == ["a.png", "d.png"]
    assert report.duplicates == [("b.png", "a.png"), ("c.webp", "a.png")]
    assert report.pool.images.count() == 2


def test_zip_import(tmp_path):
    archive = tmp_path / "pool.zip"
    archive.write_bytes(
        zip_bytes({"x/a.png": image_bytes(seed=1), "x/b.jpg": image_bytes("JPEG", seed=2), ".DS_Store": b"junk"})
    )
    report = pool_import(name="zipped", source=archive, kind="real")
    assert report.pool.kind == "real"
    assert report.imported == ["x/a.png", "x/b.jpg"]
    assert report.ignored == [".DS_Store"]


def test_zip_with_path_traversal_entry_is_refused_by_name(tmp_path):
    archive = tmp_path / "pool.zip"
    archive.write_bytes(zip_bytes({"../evil.png": image_bytes(seed=1), "ok.png": image_bytes(seed=2)}))
    with pytest.raises(PoolImportError, match=r"\.\./evil\.png: unsafe path in zip"):
        pool_import(name="zipped", source=archive)


def test_in_memory_pairs(tmp_path):
    pairs = [("s0.png", image_bytes(seed=1)), ("s1.png", image_bytes("JPEG", seed=2))]
    provenance = {"model_family": "dcgan", "iteration": 6000, "training_seconds": 113.8 * 3600, "seed": 7}
    report = pool_import(name="gen", source=pairs, kind="generated", provenance=provenance)
    pool = report.pool
    assert report.imported == ["s0.png", "s1.png"]
    assert (pool.model_family, pool.iteration, pool.seed) == ("dcgan", 6000, 7)
    assert pool.training_hours == pytest.approx(113.8)


def test_name_collision_refused(folder, make_pool):
    make_pool("cats", count=2)
    with pytest.raises(PoolImportError, match='A pool named "cats" already exists'):
        pool_import(name=" cats ", source=folder)
    assert ImagePool.objects.count() == 1


def test_unknown_provenance_field_refused(folder):
    with pytest.raises(PoolImportError, match="Unknown provenance fields: colour"):
        pool_import(name="x", source=folder, provenance={"colour": "red"})


def test_fingerprint_is_independent_of_names_and_order(tmp_path):
    blobs = [image_bytes(seed=s) for s in (1, 2, 3)]
    first = pool_import(name="p1", source=[(f"{i}.png", b) for i, b in enumerate(blobs)]).pool
    second = pool_import(name="p2", source=[(f"other_{9 - i}.png", b) for i, b in enumerate(reversed(blobs))]).pool
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint == pool_fingerprint(first.images.values_list("sha256", flat=True))
    third = pool_import(name="p3", source=[("a.png", blobs[0]), ("b.png", blobs[1])]).pool
    assert third.fingerprint != first.fingerprint


def test_no_valid_image_refused(tmp_path):
    (tmp_path / "only.txt").write_text("nothing to see")
    with pytest.raises(PoolImportError, match="No valid image found"):
        pool_import(name="empty", source=tmp_path, skip_bad=True)
    with pytest.raises(PoolImportError, match="No valid image found"):
        pool_import(name="empty", source=[])


def test_source_over_the_limits_refused(folder, settings):
    settings.EVALSITE_MAX_IMPORT_FILES = 2
    with pytest.raises(PoolImportError, match="3 files exceeds the limit of 2 files"):
        pool_import(name="big", source=folder)


def test_progress_is_reported(folder):
    calls = []
    pool_import(name="cats", source=folder, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_storage_failure_in_phase_2_leaves_no_files(folder, settings, monkeypatch):
    real_save, saved = FileSystemStorage._save, []

    def fail_on_third(self, name, content):
        if len(saved) == 2:
            raise OSError("disk full")
        saved.append(name)
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        pool_import(name="cats", source=folder)
    assert len(saved) == 2  # two files were written before the failure...
    assert media_files(settings) == []  # ...and removed again
    assert not ImagePool.objects.exists()


def test_database_failure_in_phase_2_leaves_no_files(folder, settings, monkeypatch):
    def broken_bulk_create(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(PoolImage.objects, "bulk_create", broken_bulk_create)
    with pytest.raises(RuntimeError):
        pool_import(name="cats", source=folder)
    assert media_files(settings) == []
    assert not ImagePool.objects.exists()


# --- queued imports -----------------------------------------------------------------------------------


def queued(name: str, archive: bytes, **fields) -> PoolImport:
    record = PoolImport(pool_name=name, **fields)
    record.upload.save("upload.zip", ContentFile(archive))
    return record


def test_run_queued_import(researcher, settings):
    archive = zip_bytes({"a.png": image_bytes(seed=1), "b.png": image_bytes(seed=1), "c.png": image_bytes(seed=2)})
    record = queued("cats", archive, created_by=researcher)
    upload_path = Path(record.upload.path)
    pool_import_run(pool_import=record)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.DONE
    assert record.pool.name == "cats"
    assert record.pool.created_by == researcher
    assert (record.files_done, record.files_total) == (3, 3)
    assert record.report["imported"] == ["a.png", "c.png"]
    assert record.report["duplicates"] == [["b.png", "a.png"]]
    assert record.finished_at is not None
    assert not record.upload and not upload_path.exists()


def test_run_queued_import_failure_is_recorded(settings):
    record = queued("cats", zip_bytes({"a.png": image_bytes(seed=1), "bad.png": b"nope"}))
    upload_path = Path(record.upload.path)
    pool_import_run(pool_import=record)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.FAILED
    assert "bad.png: not a PNG, JPEG or WebP image" in record.error
    assert record.report["rejected"] == [["bad.png", "not a PNG, JPEG or WebP image"]]
    assert record.pool is None and not ImagePool.objects.exists()
    assert not record.upload and not upload_path.exists()
    assert [p for p in media_files(settings) if "pool_images" in p.parts] == []


def test_run_with_skip_bad(settings):
    record = queued("cats", zip_bytes({"a.png": image_bytes(seed=1), "bad.png": b"nope"}), skip_bad=True)
    pool_import_run(pool_import=record)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.DONE
    assert record.report["rejected"] == [["bad.png", "not a PNG, JPEG or WebP image"]]


def test_run_does_nothing_for_an_import_already_taken():
    record = queued("cats", zip_bytes({"a.png": image_bytes(seed=1)}), status=PoolImport.Status.RUNNING)
    pool_import_run(pool_import=record)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.RUNNING
    assert not ImagePool.objects.exists()


def test_run_records_unexpected_errors(monkeypatch, caplog):
    record = queued("cats", zip_bytes({"a.png": image_bytes(seed=1)}))
    monkeypatch.setattr("generation.services._store_pool", lambda **kw: 1 / 0)
    pool_import_run(pool_import=record)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.FAILED
    assert record.error.startswith("Internal error")
    assert "pool import" in caplog.text


def test_blank_or_overlong_name_refused(folder):
    with pytest.raises(PoolImportError, match="needs a name"):
        pool_import(name="  ", source=folder)
    with pytest.raises(PoolImportError, match="at most 200 characters"):
        pool_import(name="x" * 201, source=folder)

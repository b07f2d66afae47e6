from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from generation.models import ImagePool
from tests.images import image_bytes, write_images

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_pool", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_summary_and_fingerprint(tmp_path):
    write_images(tmp_path, 3)
    (tmp_path / "copy.png").write_bytes((tmp_path / "img_000.png").read_bytes())
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    out, _ = run("cats", str(tmp_path))
    pool = ImagePool.objects.get(name="cats")
    assert 'Imported 3 images into pool "cats"' in out
    assert "1 duplicate, stored once:\n  img_000.png duplicates copy.png" in out  # sorted: copy.png came first
    assert "1 file ignored:\n  .DS_Store" in out
    assert f"Fingerprint: {pool.fingerprint}" in out
    assert pool.images.count() == 3


def test_provenance_options_are_stored(tmp_path):
    write_images(tmp_path, 2)
    run(
        "dcgan-6000", str(tmp_path), "--kind", "generated", "--model-family", "dcgan", "--iteration", "6000",
        "--training-seconds", "409680", "--seed", "3", "--checkpoint", "runs/dcgan/6000.pt",
    )
    pool = ImagePool.objects.get(name="dcgan-6000")
    assert (pool.kind, pool.model_family, pool.iteration, pool.seed) == ("generated", "dcgan", 6000, 3)
    assert (pool.checkpoint, pool.training_hours) == ("runs/dcgan/6000.pt", pytest.approx(113.8))


def test_bad_input_fails_with_every_problem_and_a_hint(tmp_path):
    write_images(tmp_path, 2)
    (tmp_path / "cut.png").write_bytes(image_bytes(size=(32, 32), seed=5)[:120])
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(CommandError) as caught:
        run("cats", str(tmp_path))
    message = str(caught.value)
    assert "cut.png: truncated image data" in message
    assert "empty.jpg: empty file (0 bytes)" in message
    assert "--skip-bad" in message
    assert not ImagePool.objects.exists()


def test_skip_bad_imports_the_rest(tmp_path):
    write_images(tmp_path, 2)
    (tmp_path / "empty.jpg").write_bytes(b"")
    out, _ = run("cats", str(tmp_path), "--skip-bad")
    assert "Imported 2 images" in out
    assert "1 file rejected:\n  empty.jpg: empty file (0 bytes)" in out


def test_missing_path_fails(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        run("cats", str(tmp_path / "nowhere"))


def test_long_import_reports_progress_on_stderr(tmp_path, monkeypatch):
    write_images(tmp_path, 3)
    monkeypatch.setattr("generation.management.commands.import_pool.PROGRESS_EVERY_S", 0)
    _, err = run("cats", str(tmp_path))
    assert "checked 3/3 files" in err

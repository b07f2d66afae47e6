"""Bundled data built once per session, small subsets of it for quick runs, and tiny per-family options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from generation.datasets.bundled import bundled_path
from generation.training.options import options_for

# Tiny networks and batches: every run finishes in about a second on two CPU cores.
TINY = {
    "dcgan": dict(size=16, batch_size=8, arch={"width": 0.125}),
    "progressive": dict(size=16, batch_size=8, arch={"channels": 8, "z_dim": 16},
                        family_options={"fade_iters": 2, "stable_iters": 2}),
    "srcnn": dict(size=16, batch_size=8, arch={"features": [16, 8]}, family_options={"eval_images": 8}),
    "crn": dict(size=16, batch_size=2, arch={"channels": 8}, family_options={"vgg_width": 0.125}),
    "simgan": dict(size=28, batch_size=8, arch={"features": 8, "blocks": 1, "d_width": 0.25},
                   family_options={"pretrain_refiner_steps": 2, "pretrain_d_steps": 2, "history_size": 32}),
}
FAMILIES = tuple(TINY)


def tiny_options(family: str, root: Path, **overrides):
    """Tiny options of ``family`` training on folder ``root``; arch/family_options overrides merge."""
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY[family].items()}
    values["dataset"] = str(root)
    # Bit-exact resume and sampling checks assume the CPU's deterministic kernels; GPU runs have their own test.
    values["device"] = "cpu"
    for key in ("arch", "family_options"):
        values.setdefault(key, {}).update(overrides.pop(key, {}))
    values.setdefault("checkpoint_every", 1000)
    values.setdefault("sample_every", 1000)
    values.setdefault("log_every", 1)
    return options_for(family, **{**values, **overrides})


@pytest.fixture(autouse=True)
def _restore_global_rng():
    """Trainers seed the global torch generator; put it back so other tests see what they expect."""
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


@pytest.fixture(scope="session")
def bundled_cache(datasets_dir) -> Path:
    return datasets_dir  # the session's one cache: each bundled set is built once per test run


@pytest.fixture(scope="session")
def photos_root(bundled_cache) -> Path:
    return bundled_path("photos", bundled_cache)


@pytest.fixture(scope="session")
def heldout_root(bundled_cache) -> Path:
    return bundled_path("photos-heldout", bundled_cache)


def _copy_spread(source: Path, target: Path, count: int, pattern: str = "*.png") -> None:
    """Copy ``count`` evenly spaced files (sorted order, relative paths kept) from source to target."""
    files = sorted(source.glob(pattern))
    step = max(1, len(files) // count)
    for path in files[::step][:count]:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, destination)


@pytest.fixture(scope="session")
def small_photos(photos_root, tmp_path_factory) -> Path:
    """64 of the bundled photos: decoding all 2,048 would dominate the tiny runs."""
    root = tmp_path_factory.mktemp("small") / "photos"
    _copy_spread(photos_root, root, 64)
    return root


@pytest.fixture(scope="session")
def small_layouts(bundled_cache, tmp_path_factory) -> Path:
    """32 layout/photo pairs of the bundled set, with its manifest (which records num_classes)."""
    source = bundled_path("layouts", bundled_cache)
    root = tmp_path_factory.mktemp("small") / "layouts"
    for part in ("layouts", "photos"):
        _copy_spread(source / part, root / part, 32)
    shutil.copy(source / "manifest.json", root / "manifest.json")
    return root


@pytest.fixture(scope="session")
def small_digits(bundled_cache, tmp_path_factory) -> Path:
    """64 synthetic and 64 real digits of the bundled unpaired set."""
    source = bundled_path("digits", bundled_cache)
    root = tmp_path_factory.mktemp("small") / "digits"
    for side in ("synthetic", "real"):
        _copy_spread(source / side, root / side, 64, "*/*.png")
    return root


@pytest.fixture(scope="session")
def dataset_roots(small_photos, small_layouts, small_digits) -> dict[str, Path]:
    """The small training folder of each family."""
    return {"dcgan": small_photos, "progressive": small_photos, "srcnn": small_photos,
            "crn": small_layouts, "simgan": small_digits}


def tensors_equal(a, b) -> bool:
    """Deep equality of nested dicts/lists/tuples of tensors and plain values (tensors bit for bit)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b))
    return a == b

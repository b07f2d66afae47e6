"""Conversions between [-1, 1] tensors and uint8 RGB arrays, and sample-grid PNGs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(b, c, h, w) in [-1, 1] (c = 1 or 3) -> uint8 (b, h, w, 3) RGB; grey is repeated to three channels."""
    images = images.detach().float().cpu().clamp(-1, 1)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    scaled = ((images + 1) * 127.5).round().to(torch.uint8)  # (b, 3, h, w)
    return scaled.permute(0, 2, 3, 1).contiguous().numpy()


def from_uint8(images: np.ndarray, channels: int = 3) -> torch.Tensor:
    """uint8 (b, h, w, 3) or (b, h, w) -> float (b, channels, h, w) in [-1, 1]."""
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {array.dtype}")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise ValueError(f"expected images shaped (n, h, w, 3), got {array.shape}")
    x = torch.from_numpy(array.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1  # (b, c, h, w)
    if channels == 1 and x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    elif channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    return x


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (n, h, w, 3) -> one uint8 (H, W, 3) grid with ``pad`` px of black between images."""
    n, h, w, _ = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    grid = np.zeros((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        grid[top:top + h, left:left + w] = image
    return grid


def save_png(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) array as PNG (atomically, so a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(temporary, format="PNG")
    temporary.replace(path)
    return path

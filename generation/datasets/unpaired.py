"""Unpaired synthetic and real image sets for SimGAN (e.g. rendered eyes and real eyes, drawn and handwritten digits)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from generation.datasets.errors import DatasetError
from generation.datasets.folder import ImageFolder


class Unpaired:
    """Two ImageFolders with no correspondence between them: `.synthetic` (to refine) and `.real` (the target look).

    Args:
        synthetic_root, real_root: image folders (searched recursively).
        size: output side in pixels (both sides are fitted to size x size).
        channels: 1 (grey, as the SimGAN eye and digit sets) or 3.
    """

    def __init__(self, synthetic_root: str | os.PathLike, real_root: str | os.PathLike, size: int, channels: int = 1):
        self.synthetic = ImageFolder(synthetic_root, size, channels)
        self.real = ImageFolder(real_root, size, channels)
        self.size, self.channels = int(size), channels

    @classmethod
    def from_root(cls, root: str | os.PathLike, size: int, channels: int = 1) -> "Unpaired":
        """A folder holding `synthetic/` and `real/` (the bundled digits, or UnityEyes + MPIIGaze copied in)."""
        root = Path(root)
        missing = [name for name in ("synthetic", "real") if not (root / name).is_dir()]
        if missing:
            raise DatasetError(f"{root} needs synthetic/ and real/ image folders; missing: {', '.join(missing)}")
        return cls(root / "synthetic", root / "real", size, channels)

    def synthetic_at(self, index: int) -> torch.Tensor:
        """Synthetic image `index` modulo the set's length, (channels, size, size); lets a seed pick one."""
        return self.synthetic[index % len(self.synthetic)]

"""Layout -> photo pairs for CRN: label-id maps (NEAREST-resized, ids kept) and their photos.

Two folder layouts are read:
  (a) root/layouts/NAME.png with root/photos/NAME.(png|jpg|jpeg|bmp|webp)   (the bundled "layouts" set)
  (b) Cityscapes: root/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png with
      root/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
Ids at or above num_classes raise DatasetError naming the file (no silent ignore class: a wrong
num_classes would otherwise train on a quietly corrupted layout).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from generation.datasets.errors import DatasetError
from generation.datasets.folder import EXTENSIONS, open_image, to_mode, to_tensor

CITYSCAPES_CLASSES = 34  # labelIds 0..33 of the Cityscapes label table (license plate -1 is never stored)
_LAYOUT_SUFFIX, _PHOTO_SUFFIX = "_gtFine_labelIds.png", "_leftImg8bit.png"


def _plain_pairs(root: Path) -> list[tuple[Path, Path]]:
    """Form (a): layouts/NAME.png matched to photos/NAME.<any image extension>."""
    photos = {path.stem: path for path in sorted((root / "photos").glob("*")) if path.suffix.lower() in EXTENSIONS}
    pairs = []
    for layout in sorted((root / "layouts").glob("*.png")):
        if layout.stem not in photos:
            raise DatasetError(f"layout {layout} has no photo named {layout.stem}.* in {root / 'photos'}")
        pairs.append((layout, photos[layout.stem]))
    return pairs


def _cityscapes_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """Form (b): gtFine/<split>/<city>/*_gtFine_labelIds.png matched to leftImg8bit/<split>/<city>/*_leftImg8bit.png."""
    pairs = []
    for layout in sorted((root / "gtFine" / split).glob(f"*/*{_LAYOUT_SUFFIX}")):
        stem = layout.name[: -len(_LAYOUT_SUFFIX)]
        photo = root / "leftImg8bit" / split / layout.parent.name / f"{stem}{_PHOTO_SUFFIX}"
        if not photo.is_file():
            raise DatasetError(f"layout {layout} has no photo {photo}")
        pairs.append((layout, photo))
    return pairs


def find_pairs(root: Path, split: str = "train") -> tuple[str, list[tuple[Path, Path]]]:
    """The folder's form ("plain" or "cityscapes") and its (layout, photo) files, sorted; DatasetError if none."""
    if not root.is_dir():
        raise DatasetError(f"paired dataset folder {root} does not exist or is not a folder")
    if (root / "layouts").is_dir():
        form, pairs = "plain", _plain_pairs(root)
    elif (root / "gtFine").is_dir():
        form, pairs = "cityscapes", _cityscapes_pairs(root, split)
    else:
        raise DatasetError(
            f"{root} holds neither layouts/ + photos/ nor Cityscapes' gtFine/ + leftImg8bit/ folders"
        )
    if not pairs:
        where = "layouts/*.png" if form == "plain" else f"gtFine/{split}/<city>/*{_LAYOUT_SUFFIX}"
        raise DatasetError(f"no layout files ({where}) under {root}")
    return form, pairs


def read_layout(path: Path) -> Image.Image:
    """A label-id image (mode L, P, I or I;16); RGB colour maps are refused because their ids are ambiguous."""
    image = open_image(path)
    if image.mode not in ("L", "P", "I", "I;16"):
        raise DatasetError(
            f"layout {path} is {image.mode}, not single-channel label ids (Cityscapes: use *_labelIds.png, not *_color.png)"
        )
    # Palette images keep their indices (the ids); converting them would map ids to palette colours.
    return image if image.mode in ("L", "P") else image.convert("I")


def centre_box(width: int, height: int, aspect: float) -> tuple[float, float, float, float]:
    """The largest centred box of `aspect` (width / height) inside a width x height image."""
    if width / height > aspect:
        inner = height * aspect
        return ((width - inner) / 2, 0.0, (width + inner) / 2, float(height))
    inner = width / aspect
    return (0.0, (height - inner) / 2, float(width), (height + inner) / 2)


def _scaled_box(box, source: tuple[int, int], target: tuple[int, int]):
    """A crop box on an image of size `source` mapped onto one of size `target` (a layout may be smaller than its photo)."""
    sx, sy = target[0] / source[0], target[1] / source[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


class PairedLayouts(Dataset):
    """Pairs (layout int64 (height, width), photo float32 (3, height, width) in [-1, 1]) for CRN.

    Args:
        root: a folder in form (a) layouts/ + photos/ or (b) Cityscapes gtFine/ + leftImg8bit/.
        height, width: output size; both images are centre-cropped to this aspect first, the layout
            resized with NEAREST (ids kept) and the photo with bicubic.
        num_classes: ids must lie in [0, num_classes); None = from root/manifest.json when present,
            34 for Cityscapes, else the largest id found + 1.
        split: the Cityscapes split folder ("train", "val", "test").
    """

    def __init__(self, root: str | os.PathLike, height: int, width: int, num_classes: int | None = None, *,
                 split: str = "train"):
        self.root, self.height, self.width = Path(root), int(height), int(width)
        self.form, self.pairs = find_pairs(self.root, split)
        self._layouts: torch.Tensor | None = None
        self._photos: torch.Tensor | None = None
        self._load()
        self.num_classes = self._check_classes(num_classes)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._layouts[index], self._photos[index]

    def as_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All layouts (n, h, w) int64 and photos (n, 3, h, w) float32 in [-1, 1]."""
        return self._layouts, self._photos

    def names(self) -> list[str]:
        """Each pair's layout file relative to root, in dataset order."""
        return [layout.relative_to(self.root).as_posix() for layout, _ in self.pairs]

    def _load(self) -> None:
        # Decoded eagerly: num_classes inference needs every layout anyway, and CRN sets are small.
        layouts, photos, max_ids = zip(*(self._pair(layout, photo) for layout, photo in self.pairs))
        self._layouts, self._photos, self._max_ids = torch.stack(layouts), torch.stack(photos), max_ids

    def _pair(self, layout_path: Path, photo_path: Path) -> tuple[torch.Tensor, torch.Tensor, int]:
        layout, photo = read_layout(layout_path), to_mode(open_image(photo_path), 3)
        ids = np.asarray(layout)
        # Checked at full resolution: NEAREST resizing may drop the pixels that hold a bad id.
        if ids.min() < 0:
            raise DatasetError(f"layout {layout_path} holds negative ids")
        box = centre_box(photo.width, photo.height, self.width / self.height)
        size = (self.width, self.height)
        layout = layout.resize(size, Image.Resampling.NEAREST, box=_scaled_box(box, photo.size, layout.size))
        photo = photo.resize(size, Image.Resampling.BICUBIC, box=box)
        layout_ids = torch.from_numpy(np.asarray(layout).astype(np.int64))
        return layout_ids, to_tensor(np.asarray(photo, dtype=np.uint8)), int(ids.max())

    def _check_classes(self, num_classes: int | None) -> int:
        found = max(self._max_ids) + 1
        if num_classes is None:
            num_classes = self._default_classes(found)
        if num_classes < 1:
            raise DatasetError(f"num_classes must be positive, got {num_classes}")
        if found > num_classes:
            bad = next(i for i, top in enumerate(self._max_ids) if top >= num_classes)
            raise DatasetError(
                f"layout {self.pairs[bad][0]} holds id {self._max_ids[bad]}, "
                f"but num_classes is {num_classes} (ids must be 0..{num_classes - 1})"
            )
        return int(num_classes)

    def _default_classes(self, found: int) -> int:
        manifest = self.root / "manifest.json"
        if manifest.is_file():
            recorded = json.loads(manifest.read_text(encoding="utf-8")).get("num_classes")
            if recorded:
                return int(recorded)
        return CITYSCAPES_CLASSES if self.form == "cityscapes" else found

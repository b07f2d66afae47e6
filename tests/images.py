"""Build test images in memory instead of shipping fixtures."""
import io
import random
from pathlib import Path

from PIL import Image


def image_bytes(fmt: str = "PNG", size=(16, 16), color=(200, 30, 30), seed: int | None = None, **save_args) -> bytes:
    """An image encoded as ``fmt``; with a seed, random pixels so that every seed gives distinct content."""
    if seed is None:
        img = Image.new("RGB", size, color)
    else:
        rng = random.Random(seed)
        img = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    img.save(buf, fmt, **save_args)
    return buf.getvalue()


def write_images(folder: Path, count: int, *, prefix: str = "img", first_seed: int = 0, size=(16, 16)) -> list[Path]:
    """``count`` distinct PNGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}_{i:03d}.png"
        path.write_bytes(image_bytes(seed=first_seed + i, size=size))
        paths.append(path)
    return paths

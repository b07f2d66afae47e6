"""Tiny image fixtures written with Pillow (no files are shipped with the tests)."""
import numpy as np
from PIL import Image


def write_image(path, array, mode=None):
    """Write a uint8 array as an image file (format from the suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return path


def solid(height, width, colour):
    """A uint8 (h, w, 3) image of one colour."""
    return np.broadcast_to(np.array(colour, dtype=np.uint8), (height, width, 3)).copy()

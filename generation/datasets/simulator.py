"""The digit "simulator" of the bundled SimGAN set: clean digits drawn with Pillow's built-in font.

It plays the part of the eye renderer in SimGAN: cheap, unlimited, perfectly labelled, and visibly
not like the real (handwritten) images. Output follows MNIST's conventions: white on black, the digit
scaled into a 20-pixel box and centred by its centre of mass in a 28x28 frame.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 28
_CANVAS = 72  # draw large, then downscale: Pillow's antialiasing at 28 px alone looks blocky


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Pillow >= 10.1 ships a scalable font (Aileron) when FreeType is there; the bitmap fallback cannot scale.
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("the digit simulator needs Pillow built with FreeType")
    return font


def _warp(canvas: Image.Image, slant: float, degrees: float) -> Image.Image:
    """The canvas slanted (an italic-like shear, as handwriting leans) and rotated about its centre, in one resample."""
    angle = np.deg2rad(degrees)
    rotate = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    forward = rotate @ np.array([[1.0, -slant], [0.0, 1.0]])
    inverse = np.linalg.inv(forward)  # Pillow maps each output pixel back to its input position
    centre = np.array([_CANVAS / 2, _CANVAS / 2])
    offset = centre - inverse @ centre
    data = (*inverse[0], offset[0], *inverse[1], offset[1])
    return canvas.transform(canvas.size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)


def _draw(digit: int, rng: np.random.Generator) -> Image.Image:
    """The digit drawn large with random size, stroke, slant and rotation (grey, white on black)."""
    canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
    size, stroke = int(rng.integers(30, 46)), int(rng.integers(0, 3))
    ImageDraw.Draw(canvas).text(
        (_CANVAS / 2, _CANVAS / 2), str(digit), fill=255, font=_font(size), anchor="mm",
        stroke_width=stroke, stroke_fill=255,
    )
    return _warp(canvas, slant=float(rng.uniform(-0.35, 0.35)), degrees=float(rng.uniform(-15, 15)))


def _fit(glyph: Image.Image, box: float) -> Image.Image:
    """The glyph cropped to its ink and scaled so its longer side is `box` pixels."""
    glyph = glyph.crop(glyph.getbbox())
    scale = box / max(glyph.size)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    return glyph.resize(size, Image.Resampling.LANCZOS)


def _place(glyph: Image.Image, shift: tuple[int, int]) -> np.ndarray:
    """The glyph pasted into a 28x28 frame with its centre of mass at the centre (plus `shift`)."""
    ink = np.asarray(glyph, dtype=np.float64)
    rows, cols = np.indices(ink.shape)
    centre_y, centre_x = (rows * ink).sum() / ink.sum(), (cols * ink).sum() / ink.sum()
    left = int(np.clip(round(SIZE / 2 - centre_x) + shift[0], 0, SIZE - glyph.width))
    top = int(np.clip(round(SIZE / 2 - centre_y) + shift[1], 0, SIZE - glyph.height))
    frame = Image.new("L", (SIZE, SIZE), 0)
    frame.paste(glyph, (left, top))
    return np.asarray(frame, dtype=np.uint8)


def simulate_digit(seed: int, digit: int | None = None) -> np.ndarray:
    """One synthetic digit as uint8 (28, 28), the same for the same seed; `digit` defaults to one drawn from the seed."""
    rng = np.random.default_rng(seed)
    chosen = int(rng.integers(10))
    if digit is None:
        digit = chosen
    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit must be 0-9, got {digit}")
    glyph = _fit(_draw(int(digit), rng), box=float(rng.uniform(16, 20)))
    shift = (int(rng.integers(-1, 2)), int(rng.integers(-1, 2)))
    return _place(glyph, shift)

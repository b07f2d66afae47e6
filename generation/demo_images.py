"""Procedural images for the demo pools, made from a seed: nothing is downloaded or shipped.

"Reference" scenes are smooth: a graded sky, a horizon, shaded discs. The "blocky" variant of
the same scene is what a weak generator might produce: downsampled, upsampled with nearest
neighbour, and speckled with noise. A person sees the difference after a moment's look, so a
demo survey gives a clear, checkable preference. Pure numpy + Pillow; no Django.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

SIZE = 128


def reference_scene(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A smooth scene, float RGB in [0, 1], shape (size, size, 3)."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    sky_top, sky_bottom = rng.uniform(0.3, 1.0, 3), rng.uniform(0.5, 1.0, 3)
    ground = rng.uniform(0.1, 0.6, 3)
    horizon = rng.uniform(0.55, 0.8)
    image = sky_top + (sky_bottom - sky_top) * (y / horizon)[..., None]
    below = y > horizon + 0.03 * np.sin(2 * np.pi * (x * rng.uniform(1, 3) + rng.uniform()))
    image[below] = (ground * (0.7 + 0.3 * y[..., None]))[below]
    for _ in range(rng.integers(1, 4)):
        cx, cy, radius = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.7), rng.uniform(0.07, 0.2)
        distance = np.hypot(x - cx, y - cy) / radius
        shade = np.clip(1.1 - 0.6 * np.hypot(x - cx + radius / 3, y - cy + radius / 3) / radius, 0, 1)
        colour = rng.uniform(0.2, 1.0, 3)
        inside = distance < 1
        image[inside] = (colour * shade[..., None])[inside]
    return np.clip(image, 0, 1)


def blocky(scene: np.ndarray, rng: np.random.Generator, block: int = 8, noise: float = 0.08) -> np.ndarray:
    """The scene as a poor generator would render it: blocks and speckle."""
    size = scene.shape[0]
    small = scene.reshape(size // block, block, size // block, block, 3).mean(axis=(1, 3))
    coarse = small.repeat(block, axis=0).repeat(block, axis=1)
    return np.clip(coarse + rng.normal(0, noise, scene.shape), 0, 1)


def to_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((image * 255).round().astype(np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def demo_pool_images(kind: str, count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """``count`` (name, PNG bytes) pairs of one kind, "reference" or "blocky"; same seed, same images."""
    images = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        scene = reference_scene(rng)
        image = scene if kind == "reference" else blocky(scene, rng)
        images.append((f"{kind}_{index:03d}.png", to_png(image)))
    return images

"""Obviously bad images for attention checks, made from real ones by blurring them heavily.

A blurred photo is what CRN's sentinel pairs need: anyone paying attention calls it the fake at
a glance, yet it has the colours and layout of a real image, so it does not stand out before it is
looked at. The blurred images are imported through the ordinary pool import, so they are
re-encoded, stored and served under opaque ids like every other image.
"""
from __future__ import annotations

import io

from PIL import Image, ImageFilter

from generation import imaging
from generation.models import ImagePool
from generation.services import PoolImportError, pool_import

NAME_PREFIX = "blurred: "
# A blur radius of a sixth of the smaller side leaves blobs of colour and nothing recognisable.
BLUR_FRACTION = 1 / 6
MIN_BLUR_PX = 4


def blurred_pool(*, source: ImagePool, count: int = 50, created_by=None) -> ImagePool:
    """A pool of ``count`` (or all, if fewer) heavily blurred images of ``source``, marked obviously bad.

    Made once per source content and owner: a pool ``created_by`` already blurred from a source with the
    same fingerprint is reused; another researcher's never is (each sees and deletes only their own
    pools). Call it outside a transaction that might roll back (as pool_import asks).
    """
    fingerprint = _fingerprint(source)
    existing = _existing(fingerprint, created_by)
    if existing is not None:
        return existing
    images = list(source.images.order_by("id")[:count])
    if not images:
        raise ValueError(f"The pool {source.name} has no images to blur.")
    entries = [(f"blurred-{index:04d}.png", _blurred_png(image)) for index, image in enumerate(images)]
    try:
        pool = pool_import(name=_free_name(source, fingerprint), source=entries,
                           kind=ImagePool.Kind.GENERATED, created_by=created_by).pool
    except PoolImportError:
        # Another request made the same pool a moment ago: use theirs.
        existing = _existing(fingerprint, created_by)
        if existing is None:
            raise
        return existing
    pool.obviously_bad = True
    pool.description = _description(source, fingerprint)
    pool.save(update_fields=["obviously_bad", "description"])
    return pool


def _fingerprint(source: ImagePool) -> str:
    return source.fingerprint or imaging.pool_fingerprint(source.images.values_list("sha256", flat=True))


def _description(source: ImagePool, fingerprint: str) -> str:
    # The fingerprint in the description is how the pool is found again for the same source content.
    return (f"Heavily blurred copies of images of {source.name}, for attention checks only. "
            f"Source fingerprint: {fingerprint}")


def _existing(fingerprint: str, created_by) -> ImagePool | None:
    return (
        ImagePool.objects.filter(obviously_bad=True, name__startswith=NAME_PREFIX, created_by=created_by,
                                 description__endswith=f"Source fingerprint: {fingerprint}")
        .order_by("id")
        .first()
    )


def _free_name(source: ImagePool, fingerprint: str) -> str:
    """ "blurred: <source name>", or with the fingerprint's start when a pool of another content has that name."""
    longest = ImagePool._meta.get_field("name").max_length
    name = f"{NAME_PREFIX}{source.name}"[:longest]
    if not ImagePool.objects.filter(name=name).exists():
        return name
    suffix = f" ({fingerprint[:12]})"
    return name[: longest - len(suffix)] + suffix


def _blurred_png(image) -> bytes:
    with image.file.open("rb") as handle:
        picture = Image.open(handle)
        picture.load()
    picture = picture.convert("RGB")
    radius = max(MIN_BLUR_PX, min(picture.size) * BLUR_FRACTION)
    buffer = io.BytesIO()
    picture.filter(ImageFilter.GaussianBlur(radius)).save(buffer, "PNG")
    return buffer.getvalue()

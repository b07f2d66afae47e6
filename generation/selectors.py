"""Reads for image pools: what the researcher pages and the image view show."""
from django.db.models import Count, QuerySet

from generation.models import ImagePool, PoolImage


def pool_list() -> QuerySet[ImagePool]:
    return ImagePool.objects.annotate(image_count=Count("images"))


def pool_images(*, pool: ImagePool) -> QuerySet[PoolImage]:
    return pool.images.only("public_id", "source_name", "width", "height", "pool_id")


def pool_name_taken(*, name: str) -> bool:
    return ImagePool.objects.filter(name=name.strip()).exists()


def image_by_public_id(*, public_id: str) -> PoolImage | None:
    return PoolImage.objects.only("public_id", "file").filter(public_id=public_id).first()


def image_png(*, image: PoolImage) -> bytes | None:
    """The stored PNG, or None if its file has gone missing from storage."""
    try:
        with image.file.open("rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


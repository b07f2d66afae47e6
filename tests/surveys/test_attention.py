"""Blurred attention-check pools (surveys.attention.blurred_pool), made through the real pool import."""
import pytest
from PIL import Image, ImageStat

from generation.models import ImagePool
from surveys.attention import blurred_pool

pytestmark = pytest.mark.django_db


def pixels_spread(pool_image) -> float:
    """Mean standard deviation of the colour channels: near 0 for a blurred image, large for random pixels."""
    with pool_image.file.open("rb") as handle:
        return sum(ImageStat.Stat(Image.open(handle).convert("RGB")).stddev) / 3


def test_a_blurred_pool_is_obviously_bad_generated_and_the_same_size(make_pool, researcher):
    source = make_pool("photos", count=8, kind="real")
    pool = blurred_pool(source=source, count=5, created_by=researcher)
    assert pool.name == "blurred: photos"
    assert pool.kind == ImagePool.Kind.GENERATED and pool.obviously_bad and pool.created_by == researcher
    images = list(pool.images.all())
    assert len(images) == 5
    assert {(image.width, image.height) for image in images} == {(16, 16)}
    assert len({image.sha256 for image in images}) == 5 and pool.fingerprint


def test_blurring_removes_the_detail(make_pool):
    source = make_pool("photos", count=3, kind="real")
    pool = blurred_pool(source=source)
    before = min(pixels_spread(image) for image in source.images.all())
    after = max(pixels_spread(image) for image in pool.images.all())
    assert before > 50 and after < before / 4


def test_a_small_source_gives_all_its_images(make_pool):
    assert blurred_pool(source=make_pool("few", count=3, kind="real"), count=50).images.count() == 3


def test_the_same_source_content_reuses_the_pool(make_pool):
    source = make_pool("photos", count=4, kind="real")
    first = blurred_pool(source=source)
    assert blurred_pool(source=source).pk == first.pk
    assert ImagePool.objects.filter(obviously_bad=True).count() == 1


def test_another_source_with_a_clashing_name_gets_its_own_pool(make_pool):
    source = make_pool("photos", count=4, kind="real")
    make_pool("blurred: other", count=2)  # not a blurred pool of this content
    other = make_pool("other", count=4, kind="real")
    pool = blurred_pool(source=other)
    assert pool.name.startswith("blurred: other (") and pool.obviously_bad
    assert blurred_pool(source=source).pk != pool.pk


def test_each_researcher_gets_their_own_blurred_pool_of_the_same_content(make_pool, django_user_model):
    first, second = (django_user_model.objects.create_user(name, password="pw-for-tests-only") for name in ("ann", "bo"))
    source = make_pool("photos", count=4, kind="real")
    theirs = blurred_pool(source=source, created_by=first)
    mine = blurred_pool(source=source, created_by=second)
    assert mine.pk != theirs.pk and (mine.created_by, theirs.created_by) == (second, first)
    assert blurred_pool(source=source, created_by=second).pk == mine.pk
    assert blurred_pool(source=source, created_by=first).pk == theirs.pk

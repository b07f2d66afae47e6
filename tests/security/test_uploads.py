"""Uploads are bounded in size and in number of files: over a limit, a clear refusal and nothing written."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import ImagePool, PoolImport
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

IMPORT = "generation:pool_import"


def written(settings) -> list:
    """Every file under MEDIA_ROOT (uploads, pool images)."""
    root = settings.MEDIA_ROOT
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def images(count: int) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"img-{i}.png", image_bytes(seed=i), content_type="image/png") for i in range(count)]


def post(client, **files):
    return client.post(reverse(IMPORT), {"name": "bounded", "kind": "imported", **files})


def assert_nothing_written(settings):
    assert not PoolImport.objects.exists() and not ImagePool.objects.exists()
    assert written(settings) == []


def test_an_upload_over_the_byte_limit_is_refused_with_the_limit_named(researcher_client, settings):
    settings.EVALSITE_MAX_UPLOAD_BYTES = 2000
    response = post(researcher_client, images=images(4))  # about 3 kB of PNGs
    assert response.status_code in (200, 400)  # the form again, naming the limit
    assert "The upload exceeds the limit of 2.0\xa0KB." in response.content.decode()
    assert_nothing_written(settings)


def test_a_zip_over_the_byte_limit_is_refused(researcher_client, settings):
    settings.EVALSITE_MAX_UPLOAD_BYTES = 2000
    archive = zip_bytes({f"{i}.png": image_bytes(size=(32, 32), seed=i) for i in range(3)})
    response = post(researcher_client, archive=SimpleUploadedFile("pool.zip", archive, content_type="application/zip"))
    assert "The upload exceeds the limit of" in response.content.decode()
    assert_nothing_written(settings)


def test_more_image_files_than_a_request_may_carry_is_a_400(researcher_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = post(researcher_client, images=images(4))
    assert response.status_code == 400
    assert_nothing_written(settings)


def test_as_many_image_files_as_allowed_go_through(researcher_client, settings, django_capture_on_commit_callbacks):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    with django_capture_on_commit_callbacks(execute=True):
        assert post(researcher_client, images=images(3)).status_code == 302
    assert ImagePool.objects.get(name="bounded").images.count() == 3


def test_a_zip_listing_more_files_than_an_import_takes_is_refused_at_once(researcher_client, settings):
    settings.EVALSITE_MAX_IMPORT_FILES = 3
    archive = zip_bytes({f"{i}.png": image_bytes(seed=i) for i in range(4)})
    response = post(researcher_client, archive=SimpleUploadedFile("pool.zip", archive, content_type="application/zip"))
    assert response.status_code in (200, 400)  # the form again, naming the limit
    assert "pool.zip: 4 files exceeds the limit of 3 files." in response.content.decode()
    assert_nothing_written(settings)


def test_a_zip_declaring_more_bytes_than_an_import_takes_is_refused_at_once(researcher_client, settings):
    settings.EVALSITE_MAX_IMPORT_BYTES = 10_000
    bomb = zip_bytes({"big.png": b"\0" * 50_000})  # deflates to a few dozen bytes, declares 50 kB
    response = post(researcher_client, archive=SimpleUploadedFile("pool.zip", bomb, content_type="application/zip"))
    assert "50,000 bytes of image data exceeds the limit of 10,000 bytes (zip bomb?)" in response.content.decode()
    assert_nothing_written(settings)


def test_the_import_page_states_the_limits(researcher_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 123
    settings.EVALSITE_MAX_IMPORT_FILES = 4567
    page = researcher_client.get(reverse(IMPORT)).content.decode()
    assert "at most 123 image files at once" in page and "up to 4567 files" in page


def test_the_limits_are_enforced_for_anonymous_visitors_too(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = post(client, images=images(4))
    assert response.status_code in (302, 400)  # refused before or at the login check: never stored
    assert_nothing_written(settings)

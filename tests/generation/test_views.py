import functools
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from generation import imaging
from generation.models import ImagePool, PoolImage, PoolImport
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

# Headers every image response has, whatever the image; anything else would be a difference to find.
POOL_INDEPENDENT = {"Content-Type", "Cache-Control", "X-Content-Type-Options"}


def image_url(image: PoolImage) -> str:
    return reverse("generation:image", kwargs={"public_id": image.public_id})


# --- the researcher's image view (participants' is tests/security/test_image_access.py) ------------------
# The serving itself (image_serving.serve_image) is the same for both; here an owner fetches their own pool's.


def test_image_view_serves_the_png_with_exactly_the_agreed_headers(researcher_client, own_pool):
    image = own_pool("cats", count=1).images.get()
    response = researcher_client.get(image_url(image))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=86400"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])  # a digest: neither the public id nor the pool
    assert not response.has_header("Last-Modified")
    assert not response.has_header("Content-Disposition")
    assert not response.has_header("Expires")
    served, stored = Image.open(io.BytesIO(response.content)), Image.open(image.file.path)
    assert served.format == "PNG" and served.tobytes() == stored.convert("RGB").tobytes()
    assert len(response.content) == imaging.uniform_png_length(image.width, image.height)


def test_image_url_and_headers_tell_nothing_about_the_pool(researcher_client, own_pool):
    pool = own_pool("secret-dcgan-pool", count=1)
    image = pool.images.get()
    response = researcher_client.get(image_url(image))
    visible = image_url(image) + " " + " ".join(f"{k}: {v}" for k, v in response.items())
    for secret in (pool.name, image.sha256, image.sha256[:12], image.source_name, pool.fingerprint[:12]):
        assert secret not in visible


def test_images_of_different_pools_get_identical_headers(researcher_client, own_pool):
    first = own_pool("real", count=1, kind="real").images.get()
    second = own_pool("fake", count=1, kind="generated").images.get()
    ImagePool.objects.filter(name="fake").update(created_at="2001-01-01T00:00:00Z")

    def headers(image):
        response = researcher_client.get(image_url(image))
        return {k: v for k, v in response.items() if k not in ("ETag", "Content-Length")}

    assert headers(first) == headers(second)
    assert POOL_INDEPENDENT <= set(headers(first))


def test_image_view_is_for_researchers_and_read_only(client, researcher, own_pool):
    image = own_pool("cats", count=1).images.get()
    anonymous = client.get(image_url(image))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    client.force_login(researcher)
    assert client.head(image_url(image)).status_code == 200
    assert client.post(image_url(image)).status_code == 405


def test_unknown_image_is_404(researcher_client):
    assert researcher_client.get(reverse("generation:image", kwargs={"public_id": "nope"})).status_code == 404


def test_image_with_missing_file_is_404(researcher_client, own_pool):
    image = own_pool("cats", count=1).images.get()
    Path(image.file.path).unlink()
    assert researcher_client.get(image_url(image)).status_code == 404


def test_revalidation_with_etag_gives_304(researcher_client, own_pool):
    image = own_pool("cats", count=1).images.get()
    etag = researcher_client.get(image_url(image))["ETag"]
    response = researcher_client.get(image_url(image), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["Cache-Control"] == "private, max-age=86400"
    assert not response.has_header("Last-Modified")


# --- researcher pages ---------------------------------------------------------------------------------


@pytest.fixture
def own_pool(make_pool, researcher):
    """make_pool for the logged-in researcher: the pages show a researcher only their own pools (tests/security)."""
    return functools.partial(make_pool, created_by=researcher)


@pytest.mark.parametrize(
    "name,kwargs",
    [("pool_list", {}), ("pool_detail", {"pk": 1}), ("pool_import", {}), ("import_status", {"pk": 1})],
)
def test_researcher_pages_require_login(client, name, kwargs):
    url = reverse(f"generation:{name}", kwargs=kwargs)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_pool_list_and_detail(researcher_client, own_pool):
    pool = own_pool("cats", count=3, provenance={"model_family": "dcgan"})
    listing = researcher_client.get(reverse("generation:pool_list")).content.decode()
    assert "cats" in listing and pool.fingerprint[:12] in listing and "dcgan" in listing
    detail = researcher_client.get(reverse("generation:pool_detail", kwargs={"pk": pool.pk})).content.decode()
    assert pool.fingerprint in detail
    for image in pool.images.all():
        assert image_url(image) in detail
        assert image.source_name in detail


def upload_zip(entries: dict[str, bytes]) -> SimpleUploadedFile:
    return SimpleUploadedFile("pool.zip", zip_bytes(entries), content_type="application/zip")


def post_import(client, capture, **data):
    with capture(execute=True):  # the task is queued on commit; eager Celery runs it right there
        return client.post(reverse("generation:pool_import"), {"name": "cats", "kind": "imported", **data})


def test_upload_zip_imports_end_to_end(researcher_client, django_capture_on_commit_callbacks, researcher):
    archive = upload_zip({"a.png": image_bytes(seed=1), "b.png": image_bytes(seed=1), "c.jpg": image_bytes("JPEG")})
    response = post_import(researcher_client, django_capture_on_commit_callbacks, archive=archive)
    record = PoolImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("generation:import_status", kwargs={"pk": record.pk})
    assert record.status == PoolImport.Status.DONE
    assert record.created_by == researcher
    assert not record.upload
    pool = ImagePool.objects.get(name="cats")
    assert pool.images.count() == 2
    page = researcher_client.get(response["Location"]).content.decode()
    assert "Done" in page
    assert "b.png duplicates a.png" in page
    assert reverse("generation:pool_detail", kwargs={"pk": pool.pk}) in page
    assert 'http-equiv="refresh"' not in page


def test_upload_several_image_files(researcher_client, django_capture_on_commit_callbacks):
    files = [
        SimpleUploadedFile("a.png", image_bytes(seed=1), content_type="image/png"),
        SimpleUploadedFile("a.png", image_bytes(seed=2), content_type="image/png"),  # same name, other folder
        SimpleUploadedFile("b.webp", image_bytes("WEBP", seed=3), content_type="image/webp"),
    ]
    post_import(researcher_client, django_capture_on_commit_callbacks, images=files)
    record = PoolImport.objects.get()
    assert record.status == PoolImport.Status.DONE, record.error
    assert sorted(record.pool.images.values_list("source_name", flat=True)) == ["a (2).png", "a.png", "b.webp"]


def test_upload_with_a_bad_file_names_it_and_creates_no_pool(researcher_client, django_capture_on_commit_callbacks):
    archive = upload_zip({"a.png": image_bytes(seed=1), "broken.png": image_bytes(size=(32, 32), seed=2)[:90]})
    response = post_import(researcher_client, django_capture_on_commit_callbacks, archive=archive)
    record = PoolImport.objects.get()
    assert record.status == PoolImport.Status.FAILED
    assert not ImagePool.objects.exists()
    page = researcher_client.get(response["Location"]).content.decode()
    assert "broken.png: truncated image data" in page
    assert "Skip bad files" in page


def test_status_page_refreshes_while_queued(researcher_client, researcher):
    record = PoolImport.objects.create(pool_name="later", created_by=researcher)
    page = researcher_client.get(reverse("generation:import_status", kwargs={"pk": record.pk})).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Queued" in page


@pytest.mark.parametrize(
    "data,error",
    [
        ({}, "Choose either one zip file or some image files."),
        ({"archive": SimpleUploadedFile("pool.zip", b"not a zip")}, "pool.zip: not a zip file."),
        ({"archive": SimpleUploadedFile("pool.tar", b"x")}, "pool.tar: not a zip file."),
    ],
)
def test_upload_form_errors(researcher_client, data, error):
    response = researcher_client.post(reverse("generation:pool_import"), {"name": "cats", "kind": "imported", **data})
    assert response.status_code == 400  # the form again, with its reasons
    assert error in response.content.decode()
    assert not PoolImport.objects.exists()


def test_upload_form_refuses_a_taken_name(researcher_client, make_pool):
    make_pool("cats", count=1)
    response = researcher_client.post(
        reverse("generation:pool_import"), {"name": "cats", "kind": "imported", "archive": upload_zip({})}
    )
    assert "A pool named &quot;cats&quot; already exists" in response.content.decode()


def test_upload_form_refuses_too_big_uploads(researcher_client, settings):
    settings.EVALSITE_MAX_UPLOAD_BYTES = 100
    archive = upload_zip({"a.png": image_bytes(size=(64, 64), seed=1)})
    response = researcher_client.post(
        reverse("generation:pool_import"), {"name": "cats", "kind": "imported", "archive": archive}
    )
    assert "The upload exceeds the limit of 100" in response.content.decode()
    assert not PoolImport.objects.exists()


def test_import_page_renders(researcher_client):
    page = researcher_client.get(reverse("generation:pool_import")).content.decode()
    assert 'type="file" name="images"' in page and "multiple" in page


# --- admin ----------------------------------------------------------------------------------------------


def test_admin_pages_render(client, django_user_model, make_pool):
    admin = django_user_model.objects.create_superuser("admin", password="pw-for-tests-only")
    client.force_login(admin)
    pool = make_pool("cats", count=2)
    PoolImport.objects.create(pool_name="cats", pool=pool)
    for url in (
        reverse("admin:generation_imagepool_changelist"),
        reverse("admin:generation_imagepool_change", args=[pool.pk]),
        reverse("admin:generation_poolimage_changelist"),
        reverse("admin:generation_poolimage_change", args=[pool.images.first().pk]),
        reverse("admin:generation_poolimport_changelist"),
    ):
        assert client.get(url).status_code == 200, url

"""Media in an S3-compatible bucket (EVALSITE_S3_BUCKET), against a real S3 server run offline: moto's.

The storage is configured by the settings' own ``media_storage`` from the variables a deployment sets. A pool
goes in through the researcher's import page and comes back out through the image views (a participant's of
their survey, the researcher's of their pool); the bucket itself never serves anyone.
"""
import io
import socket
import urllib.error
import urllib.request
import uuid
import zipfile

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import Image

import evalsite.settings as site_settings
from generation import services
from generation.models import PoolImage, PoolImport
from surveys import services as survey_services
from tests.images import image_bytes
from tests.participant_images import spec_image_urls, started_participant

pytestmark = pytest.mark.django_db

KEYS = {"EVALSITE_S3_ACCESS_KEY_ID": "evalsite-test", "EVALSITE_S3_SECRET_ACCESS_KEY": "evalsite-test-secret"}
REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings):
    """A new private bucket, and the site's default storage pointed at it as the environment would."""
    name = f"evalsite-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, aws_access_key_id=KEYS["EVALSITE_S3_ACCESS_KEY_ID"],
                      aws_secret_access_key=KEYS["EVALSITE_S3_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    environ = {"EVALSITE_S3_BUCKET": name, "EVALSITE_S3_ENDPOINT_URL": s3_endpoint, "EVALSITE_S3_REGION": REGION, **KEYS}
    settings.STORAGES = {**settings.STORAGES, "default": site_settings.media_storage(environ)}
    return s3, name


def keys_in(bucket) -> list[str]:
    s3, name = bucket
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", []))


def pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGB").tobytes()


def zip_upload(entries: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("pool.zip", buffer.getvalue(), content_type="application/zip")


def test_an_imported_pool_is_stored_in_the_bucket_and_served_by_the_image_views(
        bucket, researcher_client, django_capture_on_commit_callbacks, make_pool):
    sources = {f"cat-{seed}.png": image_bytes(size=(24, 16), seed=seed) for seed in range(3)}
    with django_capture_on_commit_callbacks(execute=True):
        response = researcher_client.post(reverse("generation:pool_import"),
                                          {"name": "cats", "kind": "imported", "archive": zip_upload(sources)})
    assert response.status_code == 302
    record = PoolImport.objects.get()
    assert record.status == PoolImport.Status.DONE, record.error
    images = list(PoolImage.objects.filter(pool__name="cats"))
    # Only the images, under their opaque names; the uploaded zip was deleted from the bucket after the import.
    assert keys_in(bucket) == sorted(image.file.name for image in images)
    assert all(key.startswith("pool_images/") for key in keys_in(bucket))

    # A participant of a survey of the pool: its three trials show each of the three images once.
    survey = survey_services.survey_open(survey=survey_services.survey_create(
        name="cats survey", pools=[images[0].pool, make_pool("dogs", count=3)], trials_per_participant=3))
    participant, _ = started_participant(survey, REMOTE_ADDR="203.0.113.20")
    urls = {url.rsplit("/", 1)[1]: url for url in spec_image_urls(participant, survey)}
    s3, name = bucket
    for image in images:
        researchers = researcher_client.get(reverse("generation:image", kwargs={"public_id": image.public_id}))
        served = participant.get(urls[image.public_id])
        assert served.status_code == researchers.status_code == 200
        assert served.content == researchers.content
        stored = s3.get_object(Bucket=name, Key=image.file.name)["Body"].read()
        assert pixels(served.content) == pixels(stored) == pixels(sources[image.source_name])
        # Nothing of the bucket shows: no redirect, no S3 header, no date or file name.
        assert not [header for header in served.headers if header.lower().startswith(("x-amz", "location"))]
        assert not served.has_header("Last-Modified") and not served.has_header("Content-Disposition")
        assert served["Cache-Control"].startswith("private")


def test_the_bucket_never_makes_pool_images_public(bucket, make_pool):
    image = make_pool("private", count=1).images.get()
    s3, name = bucket
    grants = s3.get_object_acl(Bucket=name, Key=image.file.name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all("URI" not in grant["Grantee"] for grant in grants)  # no AllUsers / AuthenticatedUsers
    # A URL made of the file (none is ever put in a page) is signed and expires; unsigned, the bucket refuses.
    url = image.file.url
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=" in url
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.split("?")[0], timeout=10)
    assert refused.value.code == 403


def test_two_uploads_with_the_same_name_do_not_replace_each_other(bucket):
    first = services.pool_import_queue(pool_name="a", kind="imported", skip_bad=False,
                                       archive=zip_upload({"a.png": image_bytes(seed=1)}))
    second = services.pool_import_queue(pool_name="b", kind="imported", skip_bad=False,
                                        archive=zip_upload({"b.png": image_bytes(seed=2)}))
    assert first.upload.name != second.upload.name
    assert keys_in(bucket) == sorted([first.upload.name, second.upload.name])

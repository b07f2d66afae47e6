"""Fuzzing the researcher's pool import page with Hypothesis: arbitrary bytes as files, wrong types, small zip
bombs, empty and huge names. A malformed request gets a clear 4xx and writes nothing; a well-formed one is
queued, and its import (run right there, as eager Celery does) either makes a whole pool or records why not and
leaves no image behind. Never a 5xx.

Examples are few and derandomized, so that the file stays well under a minute.
"""
import functools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings, strategies as st

from generation.models import ImagePool, PoolImage, PoolImport
from tests.generation.helpers import png_claiming_size, zip_bytes
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@functools.cache
def zip_bomb_lite() -> bytes:
    """A 40 KB zip holding 40 MB of zeros named like an image, and a zip inside a zip."""
    inner = zip_bytes({"inner.png": bytes(1024 * 1024)})
    return zip_bytes({"bomb.png": bytes(40 * 1024 * 1024), "nested.zip": inner})


@functools.cache
def good_png(seed: int) -> bytes:
    return image_bytes(size=(8, 8), seed=seed)


file_names = st.one_of(
    # Names a multipart body can carry: Django (and the test client) keep the part after the last slash.
    st.text(max_size=30).filter(lambda name: name.replace("\\", "/").rsplit("/", 1)[-1] not in ("", ".", "..")),
    st.sampled_from(["pool.zip", "a.png", "b.jpg", "c.webp", ".zip", "pool.ZIP", "no-suffix", "x" * 300 + ".zip",
                     "../../etc/passwd.zip", "a b.png", "é.png", "a\x00.png"]),
)
zip_entry_names = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["a.png", "dir/b.png", "../up.png", "/abs.png", "C:\\win.png", "__MACOSX/._a.png", ".hidden.png",
                     "a.txt", "dir/"]),
)
image_contents = st.one_of(
    st.integers(0, 5).map(good_png),
    st.binary(max_size=200),
    st.just(b""),
    st.just(png_claiming_size(100_000, 100_000)),
    st.integers(0, 5).map(lambda seed: good_png(seed)[:40]),  # truncated
)
archives = st.one_of(
    st.dictionaries(zip_entry_names, image_contents, max_size=4).map(zip_bytes),
    st.builds(zip_bomb_lite),
    st.binary(max_size=300),
    st.just(b""),
    st.just(b"PK\x03\x04" + bytes(100)),  # a zip's signature and nothing else
)


def uploaded(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# Anything at all in the form's fields ...
any_posts = st.fixed_dictionaries(
    {
        "name": st.one_of(st.text(max_size=40), st.just("n" * 1000), st.just("   "), st.just("taken")),
        "kind": st.one_of(st.sampled_from(["real", "generated", "imported"]), st.text(max_size=10)),
        "skip_bad": st.sampled_from(["", "on", "yes", "false", "\x00"]),
    },
    optional={
        "archive": st.builds(uploaded, file_names, archives),
        "images": st.lists(st.builds(uploaded, file_names, image_contents), max_size=3),
        "other": st.text(max_size=10),
    },
)
# ... and forms the page accepts, whose files hold anything: these reach the import itself.
well_formed_posts = st.builds(
    lambda name, kind, skip_bad, files: {"name": name, "kind": kind, "skip_bad": skip_bad, **files},
    st.uuids().map(lambda uuid: f"pool {uuid.hex[:10]}"),
    st.sampled_from(["real", "generated", "imported"]),
    st.sampled_from(["", "on"]),
    st.one_of(
        st.builds(lambda content: {"archive": uploaded("pool.zip", content)},
                  st.dictionaries(zip_entry_names, image_contents, min_size=1, max_size=4).map(zip_bytes)),
        st.lists(st.builds(uploaded, file_names, image_contents), min_size=1, max_size=3).map(lambda files: {"images": files}),
    ),
)
import_posts = st.one_of(any_posts, well_formed_posts)


def written() -> tuple:
    return (
        list(PoolImport.objects.order_by("pk").values_list("pk", "status", "pool_id")),
        list(ImagePool.objects.order_by("pk").values_list("pk", "name")),
        PoolImage.objects.count(),
    )


def test_any_import_post_is_answered_clearly_and_writes_all_or_nothing(researcher_client, make_pool, settings,
                                                                       django_capture_on_commit_callbacks):
    settings.EVALSITE_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    make_pool("taken", count=1)
    url = reverse("generation:pool_import")
    outcomes = set()

    @FUZZ
    @given(import_posts)
    @example({"name": "bomb", "kind": "imported", "skip_bad": "on", "archive": uploaded("bomb.zip", zip_bomb_lite())})
    @example({"name": "empty", "kind": "imported", "skip_bad": "", "archive": uploaded("pool.zip", b"")})
    @example({"name": "", "kind": "", "skip_bad": ""})
    @example({"name": "ok", "kind": "imported", "skip_bad": "", "images": [uploaded("a.png", good_png(1))]})
    def fuzz(data):
        before = written()
        with django_capture_on_commit_callbacks(execute=True):
            response = researcher_client.post(url, data)
        assert response.status_code < 500, response.content[:500]
        if response.status_code >= 400:
            outcomes.add("refused")
            assert written() == before
            assert b"errorlist" in response.content or response.content.strip(), "a refusal says why"
            return
        assert response.status_code == 302
        record = PoolImport.objects.latest("pk")
        assert record.status in (PoolImport.Status.DONE, PoolImport.Status.FAILED)
        assert not record.error.startswith("Internal error"), record.error
        if record.status == PoolImport.Status.FAILED:
            outcomes.add("failed")
            assert written()[1:] == before[1:]  # no pool, no image
        else:
            outcomes.add("imported")
            assert record.pool.images.count() > 0

    fuzz()
    assert outcomes == {"refused", "failed", "imported"}, "the examples reached every outcome"


def test_a_get_or_an_empty_post_is_not_an_error(researcher_client):
    url = reverse("generation:pool_import")
    assert researcher_client.get(url).status_code == 200
    empty = researcher_client.post(url, {})
    assert empty.status_code == 400
    assert b"This field is required." in empty.content
    assert not PoolImport.objects.exists()

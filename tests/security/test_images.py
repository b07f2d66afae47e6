"""The image views serve real and generated images alike: same headers, same format, no metadata, one pixel size
per survey and one byte length per size, however different the files they were imported from.

Images of a survey are fetched as participants fetch them (tests.participant_images); an image in no survey, which
no participant can load, by a superuser through the researcher's view: both go through image_serving.serve_image."""
import io
import struct

import pytest
from django.urls import reverse
from PIL import Image, ImageCms, PngImagePlugin

from generation import imaging
from generation.services import pool_import
from surveys import services
from tests.images import write_images
from tests.participant_images import every_image_through_participants
from tests.security.conftest import logged_in

pytestmark = pytest.mark.django_db

# Headers an image response may carry: ours, and the ones the middleware gives every response alike.
ALLOWED_HEADERS = {
    "content-type", "content-length", "cache-control", "etag", "x-content-type-options",
    "x-frame-options", "referrer-policy", "cross-origin-opener-policy", "vary", "content-language",
}
SECRETS = (b"SecretCam", b"SecretGAN", b"secret-real", b"secret-generated")


def _noise(size, seed):
    import random

    rng = random.Random(seed)
    return Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def real_sources() -> list[tuple[str, bytes]]:
    """Photo-like (noisy, incompressible) files as cameras and editors write them: EXIF with a camera name and a
    rotation, an ICC profile, text chunks, JPEG, WebP, odd sizes."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate, so 40×30 is shown 30×40
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", "SecretCam 2.0")
    return [
        ("photo.jpg", _encoded(_noise((40, 30), 1), "JPEG", quality=95, exif=exif.tobytes(), icc_profile=srgb)),
        ("scan.png", _encoded(_noise((32, 32), 2), "PNG", pnginfo=text, dpi=(300, 300))),
        ("web.webp", _encoded(_noise((36, 36), 3), "WEBP", quality=90)),
    ]


def generated_sources() -> list[tuple[str, bytes]]:
    """Smooth images (very compressible) in PNG with the sampler's own text chunk, smaller than the photos."""
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SecretGAN seed 7")
    gradient = Image.linear_gradient("L").resize((32, 32)).convert("RGB")
    return [
        ("gen-0.png", _encoded(gradient, "PNG", pnginfo=text)),
        ("gen-1.png", _encoded(Image.new("RGB", (16, 16), (120, 130, 140)), "PNG")),
        ("gen-2.png", _encoded(gradient.rotate(90), "PNG", optimize=True)),
    ]


@pytest.fixture
def survey():
    real = pool_import(name="secret-real", source=real_sources(), kind="real").pool
    fake = pool_import(name="secret-generated", source=generated_sources(), kind="generated").pool
    assert {image.file.size for image in real.images.all()}.isdisjoint({image.file.size for image in fake.images.all()})
    created = services.survey_create(name="uniform", pools=[real, fake], kind="real_fake", trials_per_participant=4)
    return services.survey_open(survey=created)


def image_fetches(survey) -> dict[str, list[tuple]]:
    """Every image of the survey by pool kind, each as (a participant's browser that may load it, its URL)."""
    reachable = every_image_through_participants(survey)
    return {arm.pool.kind: [reachable[image.public_id] for image in arm.pool.images.all()]
            for arm in survey.arms.select_related("pool")}


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == imaging.PNG_SIGNATURE
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        chunks.append(data[offset + 4:offset + 8])
        offset += 12 + length
    return chunks


def headers_but_etag(response) -> dict[str, str]:
    return {key.lower(): value for key, value in response.items() if key.lower() != "etag"}


def test_real_and_generated_images_get_identical_headers(survey):
    fetches = image_fetches(survey)
    responses = [participant.get(url) for kind in ("real", "generated") for participant, url in fetches[kind]]
    assert all(response.status_code == 200 for response in responses)
    first = headers_but_etag(responses[0])
    assert all(headers_but_etag(response) == first for response in responses)  # Content-Length included
    assert set(first) <= ALLOWED_HEADERS and "content-length" in first, set(first)
    assert first["content-type"] == "image/png" and first["cache-control"] == "private, max-age=86400"
    assert len({response["ETag"] for response in responses}) == len(responses)  # the same scheme, one per image


def test_every_image_of_a_survey_has_its_one_size_one_length_and_no_metadata(survey):
    bodies = {kind: [participant.get(url).content for participant, url in fetches]
              for kind, fetches in image_fetches(survey).items()}
    every = bodies["real"] + bodies["generated"]
    largest = (36, 40)  # the widest image (the WebP) by the tallest (the JPEG, 30×40 once turned by its EXIF)
    assert {len(body) for body in every} == {imaging.uniform_png_length(*largest)}
    for body in every:
        image = Image.open(io.BytesIO(body))
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", largest)
        assert png_chunks(body) == [b"IHDR", b"IDAT", b"IEND"]  # no eXIf, iCCP, tEXt, pHYs, gAMA, sRGB
        assert image.info == {} and not image.getexif()
        assert not any(secret in body for secret in SECRETS)


def test_revalidation_and_head_answer_alike_for_real_and_generated(survey):
    fetches = image_fetches(survey)
    real, fake = fetches["real"][0], fetches["generated"][0]
    revalidated = [participant.get(url, HTTP_IF_NONE_MATCH=participant.get(url)["ETag"])
                   for participant, url in (real, fake)]
    assert [response.status_code for response in revalidated] == [304, 304]
    assert headers_but_etag(revalidated[0]) == headers_but_etag(revalidated[1])
    heads = [participant.head(url) for participant, url in (real, fake)]
    real_participant, real_url = real
    assert headers_but_etag(heads[0]) == headers_but_etag(heads[1]) == headers_but_etag(real_participant.get(real_url))


@pytest.fixture
def linked(make_pool, tmp_path):
    """A survey of two 16 px pools, one of which also takes part in a survey with 32 px images."""
    small_a, small_b = make_pool("small-a", count=2), make_pool("small-b", count=2)  # 16×16
    write_images(tmp_path / "big", 2, size=(32, 32), first_seed=900)
    big = pool_import(name="big", source=tmp_path / "big").pool
    first = services.survey_create(name="first", pools=[small_a, small_b], trials_per_participant=2)
    services.survey_create(name="second", pools=[small_b, big], trials_per_participant=2)  # small_b is in both
    return services.survey_open(survey=first)


def test_pools_shared_between_surveys_keep_every_survey_at_one_size(linked):
    sizes = {Image.open(io.BytesIO(participant.get(url).content)).size
             for fetches in image_fetches(linked).values() for participant, url in fetches}
    assert sizes == {(32, 32)}  # small_a too: it shares a survey with small_b, which is served at 32 px


def test_the_survey_page_says_when_linked_surveys_enlarge_its_images(linked, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-for-tests-only")
    page = logged_in(admin).get(reverse("surveys:survey_detail", kwargs={"pk": linked.pk})).content.decode()
    assert "reach participants at 32×32, not 16×16" in page


def test_an_image_in_no_survey_keeps_its_own_size(make_pool, django_user_model):
    image = make_pool("alone", count=1).images.get()  # no owner: a superuser's to see, and no participant's
    admin = logged_in(django_user_model.objects.create_superuser("root", password="pw-for-tests-only"))
    body = admin.get(reverse("generation:image", kwargs={"public_id": image.public_id})).content
    assert Image.open(io.BytesIO(body)).size == (image.width, image.height) == (16, 16)


def test_served_png_keeps_the_pixels_of_an_image_already_at_size():
    picture = _noise((24, 24), 5)
    served = Image.open(io.BytesIO(imaging.served_png(_encoded(picture, "PNG"), size=(24, 24))))
    assert served.tobytes() == picture.tobytes()


def test_uniform_png_length_depends_on_the_size_alone():
    for size in [(1, 1), (17, 9), (64, 64), (300, 200)]:
        lengths = {len(imaging.uniform_png(image)) for image in (_noise(size, 1), Image.new("RGB", size, (0, 0, 0)))}
        assert lengths == {imaging.uniform_png_length(*size)}, size

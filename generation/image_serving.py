"""The one place that decides an image response: its bytes and every header.

Two doors lead here, each deciding first whether the request may see the image at all: participants'
(``surveys:image``, the images of their own trials around the current one) and researchers'
(``generation:image``, the images of pools they may see). Neither confirms anything before that check, not
even with a 304.

Every image of a survey comes out alike but for its pixels: the survey's one size, the same uncompressed PNG
layout and so the same length (imaging.served_png), and the same headers. The ETag is a digest of the public
id and the size; there is no Last-Modified (import dates differ between pools), no file name and no header of
our own.
"""
import hashlib

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag

from generation import imaging, selectors
from generation.models import PoolImage

# Part of every ETag: a change to how images are served (imaging.served_png) must not be answered with 304.
SERVED_ENCODING = "uniform-png-1"
# Every refusal of an image says this, so that "not yours" and "no such image" read alike.
NO_SUCH_IMAGE = "No such image."


def serve_image(request: HttpRequest, image: PoolImage) -> HttpResponse:
    """``image`` as every image is served (or 304 to a matching If-None-Match); call it only once access is decided."""
    size = selectors.image_size_class(image=image)
    etag = quote_etag(_image_etag(image.public_id, size))
    response = get_conditional_response(request, etag=etag) or _image_response(image, size)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _image_etag(public_id: str, size: tuple[int, int]) -> str:
    return hashlib.sha256(f"{public_id}:{size[0]}x{size[1]}:{SERVED_ENCODING}".encode()).hexdigest()[:32]


def _image_response(image: PoolImage, size: tuple[int, int]) -> HttpResponse:
    png = selectors.image_png(image=image)
    if png is None:
        raise Http404(NO_SUCH_IMAGE)
    return HttpResponse(imaging.served_png(png, size=size), content_type="image/png")

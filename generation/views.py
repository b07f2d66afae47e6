import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_POST, require_safe

from evalsite.ratelimit import rate_limited
from generation import imaging, selectors, services
from generation.forms import PoolImportForm
from generation.models import PoolImport

THUMBNAILS_PER_PAGE = 200
# Part of every ETag: a change to how images are served (imaging.served_png) must not be answered with 304.
SERVED_ENCODING = "uniform-png-1"


@rate_limited("image")
@require_safe
def image(request, public_id: str):
    """Anonymous: participants' browsers load every image through here.

    Every image of a survey comes out alike but for its pixels: the survey's one size, the same
    uncompressed PNG layout and so the same length (imaging.served_png), and the same headers. The ETag
    is a digest of the public id and the size; there is no Last-Modified (import dates differ between
    pools), no file name and no header of our own.
    """
    found = selectors.image_by_public_id(public_id=public_id)
    if found is None:
        raise Http404("No such image.")
    size = selectors.image_size_class(image=found)
    etag = quote_etag(_image_etag(public_id, size))
    response = get_conditional_response(request, etag=etag) or _image_response(found, size)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _image_etag(public_id: str, size: tuple[int, int]) -> str:
    return hashlib.sha256(f"{public_id}:{size[0]}x{size[1]}:{SERVED_ENCODING}".encode()).hexdigest()[:32]


def _image_response(found, size: tuple[int, int]) -> HttpResponse:
    png = selectors.image_png(image=found)
    if png is None:
        raise Http404("No such image.")
    return HttpResponse(imaging.served_png(png, size=size), content_type="image/png")


@login_required
def pool_list(request):
    return render(request, "generation/pool_list.html", {
        "pools": selectors.pool_list_for_researcher(user=request.user).select_related("created_by"),
    })


@login_required
def pool_detail(request, pk: int):
    pool = selectors.pool_for_researcher(user=request.user, pk=pk)
    page = Paginator(selectors.pool_images(pool=pool), THUMBNAILS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "generation/pool_detail.html", {"pool": pool, "page": page})


@login_required
@require_POST
def pool_obviously_bad(request, pk: int):
    """Mark a pool as obviously bad (offered only for attention checks), or take the mark off."""
    pool = selectors.pool_for_researcher(user=request.user, pk=pk)
    pool.obviously_bad = request.POST.get("obviously_bad") == "on"
    pool.save(update_fields=["obviously_bad"])
    return redirect("generation:pool_detail", pk=pk)


@login_required
def pool_import(request):
    posted = request.method == "POST"
    form = PoolImportForm(request.POST, request.FILES) if posted else PoolImportForm()  # an empty post is one too
    if posted and form.is_valid():
        record = services.pool_import_queue(
            pool_name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            skip_bad=form.cleaned_data["skip_bad"],
            archive=form.cleaned_data["archive"],
            images=form.cleaned_data["images"],
            created_by=request.user,
        )
        return redirect("generation:import_status", pk=record.pk)
    context = {
        "form": form,
        "max_upload_bytes": settings.EVALSITE_MAX_UPLOAD_BYTES,
        # Django refuses a request with more files than this (400) before the form sees it: say so up front.
        "max_upload_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "max_import_files": settings.EVALSITE_MAX_IMPORT_FILES,
    }
    # A refused upload is a 400 (with the form's reasons), so that a script sees it as one.
    return render(request, "generation/pool_import.html", context, status=400 if posted else 200)


@login_required
def import_status(request, pk: int):
    record = selectors.pool_import_for_researcher(user=request.user, pk=pk)
    in_progress = record.status in (PoolImport.Status.QUEUED, PoolImport.Status.RUNNING)
    return render(request, "generation/import_status.html", {"record": record, "in_progress": in_progress})

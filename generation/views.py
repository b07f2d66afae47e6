from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_POST, require_safe

from generation import selectors, services
from generation.forms import PoolImportForm
from generation.models import ImagePool, PoolImport

THUMBNAILS_PER_PAGE = 200


@require_safe
def image(request, public_id: str):
    """Anonymous: participants' browsers load every image through here.

    Every header is the same for every image except the ETag, which comes from the public id alone:
    no Last-Modified (import dates differ between pools), no file name, no size hint beyond the body.
    """
    found = selectors.image_by_public_id(public_id=public_id)
    png = selectors.image_png(image=found) if found else None
    if png is None:
        raise Http404("No such image.")
    etag = quote_etag(public_id)
    response = get_conditional_response(request, etag=etag) or HttpResponse(png, content_type="image/png")
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def pool_list(request):
    return render(request, "generation/pool_list.html", {"pools": selectors.pool_list()})


@login_required
def pool_detail(request, pk: int):
    pool = get_object_or_404(selectors.pool_list(), pk=pk)
    page = Paginator(selectors.pool_images(pool=pool), THUMBNAILS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "generation/pool_detail.html", {"pool": pool, "page": page})


@login_required
@require_POST
def pool_obviously_bad(request, pk: int):
    """Mark a pool as obviously bad (offered only for attention checks), or take the mark off."""
    pool = get_object_or_404(ImagePool, pk=pk)
    pool.obviously_bad = request.POST.get("obviously_bad") == "on"
    pool.save(update_fields=["obviously_bad"])
    return redirect("generation:pool_detail", pk=pk)


@login_required
def pool_import(request):
    form = PoolImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        record = services.pool_import_queue(
            pool_name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            skip_bad=form.cleaned_data["skip_bad"],
            archive=form.cleaned_data["archive"],
            images=form.cleaned_data["images"],
            created_by=request.user,
        )
        return redirect("generation:import_status", pk=record.pk)
    context = {"form": form, "max_upload_bytes": settings.EVALSITE_MAX_UPLOAD_BYTES}
    return render(request, "generation/pool_import.html", context)


@login_required
def import_status(request, pk: int):
    record = get_object_or_404(PoolImport.objects.select_related("pool"), pk=pk)
    in_progress = record.status in (PoolImport.Status.QUEUED, PoolImport.Status.RUNNING)
    return render(request, "generation/import_status.html", {"record": record, "in_progress": in_progress})

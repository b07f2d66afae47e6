from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from evalsite.ratelimit import rate_limited
from generation import selectors, services
from generation.forms import PoolImportForm
from generation.image_serving import NO_SUCH_IMAGE, serve_image
from generation.models import PoolImport

THUMBNAILS_PER_PAGE = 200


@rate_limited("image")
@login_required
@require_safe
def image(request, public_id: str):
    """Researchers: an image of a pool they may see (the pool page's thumbnails, the admin's), else 404.

    Participants load the images of their own trials through surveys:image instead; both are served by
    image_serving.serve_image, so the two cannot drift apart.
    """
    found = selectors.image_for_researcher(user=request.user, public_id=public_id)
    if found is None:
        raise Http404(NO_SUCH_IMAGE)
    return serve_image(request, found)


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

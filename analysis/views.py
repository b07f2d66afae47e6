from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from analysis import charts, exports, tables
from surveys.models import Survey


def _completed_only(request) -> bool:
    return request.GET.get("completed_only") in {"1", "true", "on", "yes"}


@login_required
def survey_results(request, pk: int):
    survey = get_object_or_404(Survey, pk=pk)
    completed_only = _completed_only(request)
    results = tables.survey_pairwise_results(survey=survey, completed_only=completed_only)
    context = {
        "survey": survey,
        "summary": results.summary,
        "rows": exports.display_rows(results.table),
        "method_sentence": exports.method_sentence(results.summary),
        "interval_header": exports.interval_header(results.summary),
        "completed_only": completed_only,
        "export_formats": [("csv", "CSV"), ("xlsx", "Excel"), ("md", "Markdown")],
    }
    return render(request, "analysis/survey_results.html", context)


@login_required
def survey_export(request, pk: int, fmt: str):
    export_format = exports.EXPORT_FORMATS.get(fmt)
    if export_format is None:
        raise Http404(f"No export format {fmt!r}.")
    survey = get_object_or_404(Survey, pk=pk)
    results = tables.survey_pairwise_results(survey=survey, completed_only=_completed_only(request))
    response = HttpResponse(export_format.render(results), content_type=export_format.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(results.summary, fmt)}"'
    return response


@login_required
@require_safe
def plotly_js(request):
    """plotly.js from the installed plotly package, cached by its version."""
    etag = quote_etag(f"plotly-{charts.plotly_version()}")
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        charts.plotly_js(), content_type="text/javascript; charset=utf-8"
    )
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=604800"
    return response

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from analysis import exports, tables
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

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from analysis import charts, exports, raw_export, tables
from surveys.models import Survey


def _flag(request, name: str) -> bool:
    return request.GET.get(name) in {"1", "true", "on", "yes"}


def _results(request, survey) -> tables.SurveyResults:
    return tables.survey_results(
        survey=survey, completed_only=_flag(request, "completed_only"), include_invalid=_flag(request, "include_invalid")
    )


@login_required
def survey_results(request, pk: int):
    survey = get_object_or_404(Survey, pk=pk)
    results = _results(request, survey)
    completed_only = results.summary["completed_only"]
    real_fake = results.kind == "real_fake"
    context = {
        "survey": survey,
        "summary": results.summary,
        "kind": results.kind,
        "timed": "exposure_ms" in results.table.columns,
        "rows": [] if real_fake else exports.display_rows(results.table),
        "real_fake_rows": exports.real_fake_display_rows(results.table) if real_fake else [],
        "exclusion_sentences": exports.exclusion_sentences(results.summary),
        "arm_rows": exports.arms_display_rows(results.arms),
        "ranking_rows": exports.ranking_display_rows(results.ranking),
        "ranking_method": results.summary.get("ranking_method", ""),
        "position_bias": exports.position_bias_sentence(results.summary),
        "include_invalid": results.summary["include_invalid"],
        "query": request.GET.urlencode(),
        "method_sentence": exports.method_sentence(results.summary),
        "interval_header": exports.interval_header(results.summary),
        "completed_only": completed_only,
        "export_formats": [
            ("csv", "CSV"), ("xlsx", "Excel"), ("md", "Markdown"),
            ("raw", "Raw responses (CSV)"), ("manifest", "Manifest (JSON)"),
        ],
    }
    return render(request, "analysis/survey_results.html", context)


@login_required
def survey_export(request, pk: int, fmt: str):
    export_format = exports.EXPORT_FORMATS.get(fmt)
    if export_format is None:
        raise Http404(f"No export format {fmt!r}.")
    survey = get_object_or_404(Survey, pk=pk)
    if raw_export.takes_survey(export_format):
        content = export_format.render(
            survey, completed_only=_flag(request, "completed_only"), include_invalid=_flag(request, "include_invalid")
        )
        filename = exports.export_filename({"survey_slug": survey.slug}, fmt)
    else:
        results = _results(request, survey)
        content = export_format.render(results)
        filename = exports.export_filename(results.summary, fmt)
    response = HttpResponse(content, content_type=export_format.content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
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

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe

from analysis import charts, exports, raw_export, static_charts, tables
from surveys.selectors import survey_for_researcher


def _flag(request, name: str) -> bool:
    return request.GET.get(name) in {"1", "true", "on", "yes"}


def _parse_options(request) -> tables.CountingOptions:
    """The counting options in the query; ValueError saying why when the minimum reaction time is malformed."""
    raw_minimum = request.GET.get("min_reaction_ms", "").strip()
    try:
        minimum = float(raw_minimum) if raw_minimum else tables.MIN_REACTION_MS
    except ValueError:
        raise ValueError(f"min_reaction_ms must be a number of milliseconds, not {raw_minimum!r}.") from None
    return tables.CountingOptions(_flag(request, "completed_only"), _flag(request, "include_invalid"), minimum)


def counting_options(view):
    """Reads the counting options into ``request.counting_options``; malformed ones get a 400 that says why."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            request.counting_options = _parse_options(request)
        except ValueError as error:
            return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
        return view(request, *args, **kwargs)
    return wrapper


def _results(request, survey) -> tables.SurveyResults:
    return tables.survey_results(survey=survey, **request.counting_options.as_kwargs())


def _query_with(request, **changes) -> str:
    """The page's query string with ``changes`` applied (None removes a key): toggles keep the other options."""
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return query.urlencode()


@login_required
@counting_options
def survey_results(request, pk: int):
    survey = survey_for_researcher(user=request.user, pk=pk)
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
        **exports.page_sections(results),
        "position_bias": exports.position_bias_sentence(results.summary),
        "include_invalid": results.summary["include_invalid"],
        "query": request.GET.urlencode(),
        "method_sentence": exports.method_sentence(results.summary),
        "interval_header": exports.interval_header(results.summary),
        "completed_only": completed_only,
        "min_reaction_ms": results.summary["min_reaction_ms"],
        "query_completed_toggle": _query_with(request, completed_only=None if completed_only else "1"),
        "query_invalid_toggle": _query_with(request, include_invalid=None if results.summary["include_invalid"] else "1"),
        "charts": _page_charts(survey, results),
        "export_formats": [
            ("csv", "CSV"), ("xlsx", "Excel"), ("md", "Markdown"), ("tex", "LaTeX"),
            ("raw", "Raw responses (CSV)"), ("manifest", "Manifest (JSON)"),
            ("charts", "Charts (SVG + PNG, zip)"),
        ],
    }
    return render(request, "analysis/survey_results.html", context)


@login_required
@counting_options
def survey_export(request, pk: int, fmt: str):
    export_format = exports.EXPORT_FORMATS.get(fmt)
    if export_format is None:
        raise Http404(f"No export format {fmt!r}.")
    survey = survey_for_researcher(user=request.user, pk=pk)
    if raw_export.takes_survey(export_format):
        try:
            content = export_format.render(survey, **request.counting_options.as_kwargs())
        except static_charts.StaticChartsUnavailable as error:
            return _charts_unavailable(request, survey, error)
        filename = exports.export_filename({"survey_slug": survey.slug}, fmt)
    else:
        results = _results(request, survey)
        content = export_format.render(results)
        filename = exports.export_filename(results.summary, fmt)
    response = HttpResponse(content, content_type=export_format.content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _page_charts(survey, results: tables.SurveyResults) -> list[dict]:
    """Each chart as the page embeds it: plain JSON for json_script (plotly's encoder turns NaN into null)."""
    return [
        {"name": chart.name, "heading": chart.heading, "summary": chart.summary,
         "script_id": f"chart-{chart.name}-figure", "figure": json.loads(chart.figure.to_json())}
        for chart in static_charts.survey_charts(survey=survey, results=results).values()
    ]


@login_required
@require_safe
@counting_options
def survey_chart(request, pk: int, name: str, fmt: str):
    """One chart of the results page as a static image (SVG, PNG or PDF), counting answers as the page does."""
    content_type = static_charts.IMAGE_FORMATS.get(fmt)
    if content_type is None:
        raise Http404(f"No image format {fmt!r}.")
    survey = survey_for_researcher(user=request.user, pk=pk)
    found = static_charts.survey_charts(survey=survey, results=_results(request, survey))
    if name not in found:
        raise Http404(f"No chart {name!r} for this survey.")
    try:
        image = static_charts.render_image(found[name].figure, fmt)
    except static_charts.StaticChartsUnavailable as error:
        return _charts_unavailable(request, survey, error)
    response = HttpResponse(image, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{survey.slug}-{name}.{fmt}"'
    return response


def _charts_unavailable(request, survey, error: static_charts.StaticChartsUnavailable):
    return render(request, "analysis/charts_unavailable.html", {"survey": survey, "message": str(error)}, status=503)


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

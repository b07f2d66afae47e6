"""Static images of the results charts (SVG, PNG, PDF) through Kaleido, plotly's own exporter.

Kaleido drives a Chromium that is already installed (settings.EVALSITE_CHROMIUM); it never downloads
one, and loads plotly.js from the plotly package and no MathJax, so it needs no network.
"""
import asyncio
import io
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import plotly.graph_objects as go
from django.conf import settings

from analysis import charts, raw_export, selectors, tables

IMAGE_FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
ZIP_FORMATS = ("svg", "png")
PNG_SCALE = 2  # PNGs at twice the CSS size: sharp on slides and high-density screens
UNAVAILABLE = (
    "static charts need Chromium (apt-get install chromium); the interactive charts and every table work without it"
)


class StaticChartsUnavailable(RuntimeError):
    """No browser for Kaleido: static images cannot be made here."""

    def __init__(self, detail: str = ""):
        super().__init__(UNAVAILABLE + (f" ({detail})" if detail else ""))


def chromium_path() -> str:
    """The browser Kaleido drives, read at call time so that tests and deployments can change it."""
    return str(getattr(settings, "EVALSITE_CHROMIUM", "/usr/bin/chromium"))


def render_images(figures: Mapping[str, go.Figure], formats: Iterable[str]) -> dict[tuple[str, str], bytes]:
    """{(name, format): image bytes} for every figure in every format, in one browser session.

    Chromium's start-up is most of the cost, so a zip of every chart pays it once.
    """
    jobs = [(name, fmt, figure) for name, figure in figures.items() for fmt in formats]
    if not jobs:
        return {}
    path = chromium_path()
    if not Path(path).is_file():
        raise StaticChartsUnavailable(f"no browser at {path}")
    # A fresh thread gets its own event loop, whatever the caller runs (a view, a command, Playwright's loop).
    with ThreadPoolExecutor(max_workers=1) as pool:
        images = pool.submit(asyncio.run, _render(jobs, path)).result()
    return {(name, fmt): image for (name, fmt, _), image in zip(jobs, images)}


def render_image(figure: go.Figure, fmt: str) -> bytes:
    return render_images({"chart": figure}, [fmt])[("chart", fmt)]


async def _render(jobs: list[tuple[str, str, go.Figure]], path: str) -> list[bytes]:
    try:  # imported here: the site starts, and its tables and interactive charts work, without kaleido
        import kaleido
        from choreographer import errors
    except ImportError as error:
        raise StaticChartsUnavailable("kaleido is not installed: pip install -r requirements.txt") from error
    fails_to_start = (errors.ChromeNotFoundError, errors.BrowserFailedError, errors.BrowserClosedError,
                      errors.ChannelClosedError, FileNotFoundError, PermissionError)
    try:
        async with kaleido.Kaleido(path=path, mathjax=False) as browser:
            return [await browser.calc_fig(figure, opts=_image_options(fmt)) for _, fmt, figure in jobs]
    except fails_to_start as error:
        # Not the library's own advice: it suggests downloading a browser, which this platform never does.
        raise StaticChartsUnavailable(f"the browser at {path} did not start: {type(error).__name__}") from error


def _image_options(fmt: str) -> dict:
    return {"format": fmt, "width": charts.WIDTH, "height": charts.HEIGHT, "scale": PNG_SCALE if fmt == "png" else 1}


# --- What the views and the export command call ---------------------------------------------------


def survey_charts(*, survey, results: tables.SurveyResults) -> dict[str, charts.Chart]:
    """The results page's charts for ``survey``: ``results`` plus the answers and completions over time."""
    frame = selectors.survey_responses_frame(survey=survey, completed_only=results.summary["completed_only"])
    return charts.results_charts(results, frame, selectors.survey_completion_times(survey=survey))


def charts_zip(survey, **options) -> bytes:
    """Every chart of the survey's results as SVG and PNG, in one zip; ``options`` as tables.CountingOptions."""
    results = tables.survey_results(survey=survey, **options)
    found = survey_charts(survey=survey, results=results)
    images = render_images({name: chart.figure for name, chart in found.items()}, ZIP_FORMATS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for (name, fmt), image in images.items():
            archive.writestr(f"{survey.slug}-{name}.{fmt}", image)
        archive.writestr(f"{survey.slug}-charts.txt", _captions(found))
    return buffer.getvalue()


def _captions(found: Mapping[str, charts.Chart]) -> str:
    """What each image shows, in words: the same text alternatives as the page."""
    return "".join(f"{name}: {chart.heading}\n  {chart.summary}\n\n" for name, chart in found.items())


CHARTS = raw_export.SurveyExportFormat("zip", "application/zip", charts_zip, "charts")

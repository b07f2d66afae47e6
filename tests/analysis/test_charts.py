"""Charts: the figures carry exactly the tables' numbers; static images come out of the real Kaleido + Chromium."""
import base64
import io
import math
import os
import zipfile
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from analysis import charts, selectors, static_charts, stats, tables
from tests.analysis.test_counting import real_fake_survey  # noqa: F401 (a fixture)
from tests.conftest import in_ci

NO_BROWSER = "/nonexistent/chromium"


def needs_chromium():
    path = os.environ.get("EVALSITE_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        if in_ci():
            pytest.fail(f"static chart tests must run under CI: {path} is missing")
        pytest.skip(f"{path} is not installed (apt-get install chromium)")


# --- Tables built by hand, with the tables module's exact columns ---------------------------------


def arms_frame() -> pd.DataFrame:
    return pd.DataFrame([
        ["Real photos", "real", "", None, None, 40, 28, 0.7, 0.53, 0.83],
        ["DCGAN", "generated", "dcgan", 6000, 113.8, 40, 15, 0.375, 0.23, 0.54],
        ["Multi-stage", "generated", "progressive", 6000, 75.2, 40, 17, 0.425, 0.27, 0.59],
    ], columns=tables.ARM_COLUMNS)


def ranking_frame() -> pd.DataFrame:
    return pd.DataFrame([
        [1, "Real photos", "real", 0.0, 0.0, 0.0, 40],
        [2, "Multi-stage", "generated", -0.6, -1.1, -0.1, 40],
        [3, "DCGAN", "generated", -0.8, -1.3, -0.3, 40],
    ], columns=tables.RANKING_COLUMNS)


FITS = {"CRN": (400.0, 300.0, 560.0, 3.0, 0.5), "Pix2pix": (150.0, math.nan, math.nan, 2.0, 0.5)}
EXPOSURES = [125.0, 250.0, 500.0, 1000.0, 4000.0]


def curves_frame() -> pd.DataFrame:
    rows = []
    for arm, (threshold, _, _, slope, floor) in FITS.items():
        fit = stats.PsychometricFit(threshold, slope, floor, True)
        for exposure, p in zip(EXPOSURES, stats.psychometric_curve(fit, EXPOSURES)):
            k = round(p * 40)
            rows.append([arm, "generated", "accuracy", exposure, 40, k, k / 40, *stats.clopper_pearson(k, 40)])
    rows.append(["No fit", "generated", "accuracy", 500.0, 10, 5, 0.5, *stats.clopper_pearson(5, 10)])
    return pd.DataFrame(rows, columns=tables.EXPOSURE_CURVE_COLUMNS)


def thresholds_frame() -> pd.DataFrame:
    rows = [[arm, "generated", "accuracy", threshold, low, high, slope, floor, True, 0, ""]
            for arm, (threshold, low, high, slope, floor) in FITS.items()]
    rows.append(["No fit", "generated", "accuracy", math.nan, math.nan, math.nan, math.nan, 0.5, False, 0,
                 "fewer than two exposures"])
    return pd.DataFrame(rows, columns=tables.THRESHOLD_COLUMNS)


def pairwise_results(**fields) -> tables.SurveyResults:
    summary = {"kind": "pairwise", "confidence": 0.95, "completed_only": False,
               "ranking_method": "Bradley–Terry; scores relative to the real arm"}
    return tables.SurveyResults(table=pd.DataFrame(columns=tables.PAIRWISE_COLUMNS), summary=summary, **fields)


def real_fake_results(table: pd.DataFrame) -> tables.SurveyResults:
    return tables.SurveyResults(table=table, summary={"kind": "real_fake", "confidence": 0.95, "completed_only": False})


def real_fake_frame(exposures=(250.0, 1000.0)) -> pd.DataFrame:
    rows = []
    for arm, images, base in (("Real", "real", 22), ("SimGAN", "generated", 15), ("Synthetic", "generated", 3)):
        for i, exposure in enumerate(exposures):
            k = base + i
            interval = stats.clopper_pearson(k, 30)
            rows.append([arm, images, exposure, 30, k, k / 30, *interval, 0, math.nan, math.nan, 1.0])
    return pd.DataFrame(rows, columns=tables.REAL_FAKE_COLUMNS)


def bounds(trace) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(trace.y, dtype=float)
    return y - np.asarray(trace.error_y.arrayminus, dtype=float), y + np.asarray(trace.error_y.array, dtype=float)


# --- Figure builders ------------------------------------------------------------------------------


def test_pairwise_selection_rates_are_the_arms_tables_rates_and_intervals():
    arms = arms_frame()
    figure = charts.selection_rate_figure(pairwise_results(arms=arms))
    (trace,) = figure.data
    assert list(trace.x) == list(arms["arm"])
    assert np.asarray(trace.y, dtype=float).tolist() == arms["preferred_rate"].tolist()
    low, high = bounds(trace)
    np.testing.assert_allclose(low, arms["ci_low"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, arms["ci_high"], rtol=0, atol=1e-12)
    assert [row[2] for row in trace.customdata] == [40, 40, 40]  # n, shown on hover
    assert "n = %{customdata[2]}" in trace.hovertemplate and "95 % interval" in trace.hovertemplate
    assert list(trace.marker.symbol) == ["diamond", "circle", "circle"]  # the real arm is marked
    (chance,) = [shape for shape in figure.layout.shapes if shape.y0 == 0.5 and shape.y1 == 0.5]
    assert chance.line.dash == "dash"
    assert list(figure.layout.yaxis.range) == [0, 1]
    assert figure.layout.title.text is None  # the page's headings name the charts


def test_real_fake_selection_rates_are_grouped_by_exposure():
    table = real_fake_frame()
    figure = charts.selection_rate_figure(real_fake_results(table))
    assert [trace.name for trace in figure.data] == ["250 ms", "1000 ms"]
    for trace, exposure in zip(figure.data, [250.0, 1000.0]):
        rows = table[table["exposure_ms"] == exposure]
        assert list(trace.x) == list(rows["arm"])
        assert np.asarray(trace.y, dtype=float).tolist() == rows["judged_real_rate"].tolist()
        low, high = bounds(trace)
        np.testing.assert_allclose(low, rows["ci_low"], atol=1e-12)
        np.testing.assert_allclose(high, rows["ci_high"], atol=1e-12)
    assert figure.layout.yaxis.title.text == "Share of its images judged real"


def test_untimed_real_fake_rates_are_one_trace():
    table = real_fake_frame(exposures=(math.nan,))
    (trace,) = charts.selection_rate_figure(real_fake_results(table)).data
    assert trace.name == "unlimited time"
    assert list(trace.x) == ["Real", "SimGAN", "Synthetic"]


def test_ranking_shows_the_bradley_terry_scores_best_first_with_the_real_arm_marked():
    ranking = ranking_frame()
    figure = charts.ranking_figure(pairwise_results(arms=arms_frame(), ranking=ranking))
    assert list(figure.layout.xaxis.categoryarray) == ["Real photos", "Multi-stage", "DCGAN"]
    generated, real = figure.data
    assert (real.name, list(real.x), real.marker.symbol) == ("Real images", ["Real photos"], "diamond")
    assert list(generated.x) == ["Multi-stage", "DCGAN"]
    assert np.asarray(generated.y, dtype=float).tolist() == [-0.6, -0.8]
    low, high = bounds(generated)
    np.testing.assert_allclose(low, [-1.1, -1.3], atol=1e-12)
    np.testing.assert_allclose(high, [-0.1, -0.3], atol=1e-12)
    assert "0 = real images" in figure.layout.yaxis.title.text


def test_exposure_curves_draw_points_fitted_curves_and_thresholds():
    curves, thresholds = curves_frame(), thresholds_frame()
    figure = charts.exposure_curve_figure(pairwise_results(exposure_curves=curves, thresholds=thresholds))
    assert figure.layout.xaxis.type == "log"
    by_name = {trace.name: trace for trace in figure.data}
    crn = curves[curves["arm"] == "CRN"]
    assert np.asarray(by_name["CRN"].x, dtype=float).tolist() == EXPOSURES
    assert np.asarray(by_name["CRN"].y, dtype=float).tolist() == crn["rate"].tolist()
    low, high = bounds(by_name["CRN"])
    np.testing.assert_allclose(low, crn["ci_low"], atol=1e-12)
    np.testing.assert_allclose(high, crn["ci_high"], atol=1e-12)

    for arm, (threshold, _, _, slope, floor) in FITS.items():
        fit = stats.PsychometricFit(threshold_ms=threshold, slope=slope, floor=floor, converged=True)
        line = by_name[f"{arm} (fit)"]
        x = np.asarray(line.x, dtype=float)
        assert x.min() < min(EXPOSURES) and x.max() > max(EXPOSURES)
        np.testing.assert_allclose(np.asarray(line.y, dtype=float), stats.psychometric_curve(fit, x), rtol=1e-12)
        marker = by_name[f"{arm} threshold"]
        assert list(marker.x) == [threshold]
        np.testing.assert_allclose(marker.y, stats.psychometric_curve(fit, [threshold]))
    crn_marker = by_name["CRN threshold"]
    assert (400.0 - crn_marker.error_x.arrayminus[0], 400.0 + crn_marker.error_x.array[0]) == (300.0, 560.0)
    assert "No fit (fit)" not in by_name and "No fit threshold" not in by_name  # points only, no invented curve
    assert "No fit" in by_name


def test_exposure_curves_without_thresholds_still_show_the_points():
    figure = charts.exposure_curve_figure(pairwise_results(exposure_curves=curves_frame()))
    assert [trace.name for trace in figure.data] == ["CRN", "Pix2pix", "No fit"]


def test_responses_over_time_are_cumulative_counts_in_time_order():
    answers = pd.Series(pd.to_datetime(["2024-05-01T10:00Z", "2024-05-01T09:00Z", "2024-05-01T09:30Z"]))
    completions = pd.Series(pd.to_datetime(["2024-05-01T10:05Z"]))
    figure = charts.responses_over_time_figure(answers, completions)
    recorded, completed = figure.data
    assert list(recorded.y) == [1, 2, 3]
    assert list(pd.to_datetime(pd.Series(recorded.x))) == list(pd.to_datetime(
        ["2024-05-01T09:00", "2024-05-01T09:30", "2024-05-01T10:00"]))  # UTC wall-clock, whatever the viewer's zone
    assert list(completed.y) == [1]
    assert (recorded.name, completed.name) == ("Answers recorded", "Participants completed")


@pytest.mark.parametrize("builder, results", [
    (charts.selection_rate_figure, pairwise_results()),
    (charts.selection_rate_figure, pairwise_results(arms=pd.DataFrame(columns=tables.ARM_COLUMNS))),
    (charts.selection_rate_figure, real_fake_results(pd.DataFrame(columns=tables.REAL_FAKE_COLUMNS))),
    (charts.ranking_figure, pairwise_results()),
    (charts.ranking_figure, pairwise_results(ranking=pd.DataFrame(columns=tables.RANKING_COLUMNS))),
    (charts.exposure_curve_figure, pairwise_results()),
    (charts.exposure_curve_figure,
     pairwise_results(exposure_curves=pd.DataFrame(columns=tables.EXPOSURE_CURVE_COLUMNS))),
    (charts.ranking_figure, real_fake_results(real_fake_frame())),
])
def test_nothing_to_draw_gives_no_figure(builder, results):
    assert builder(results) is None


def test_arms_nobody_saw_give_no_selection_rate_figure():
    arms = arms_frame().assign(n=0, preferred=0, preferred_rate=math.nan, ci_low=0.0, ci_high=1.0)
    assert charts.selection_rate_figure(pairwise_results(arms=arms)) is None


def test_no_answers_give_no_time_figure():
    empty = pd.Series([], dtype="datetime64[ns, UTC]")
    assert charts.responses_over_time_figure(empty, empty) is None


def test_results_charts_come_in_page_order_with_text_alternatives():
    results = pairwise_results(arms=arms_frame(), ranking=ranking_frame(), exposure_curves=curves_frame(),
                               thresholds=thresholds_frame())
    frame = pd.DataFrame({"created_at": pd.to_datetime(["2024-05-01T09:00Z", "2024-05-01T09:10Z"])})
    found = charts.results_charts(results, frame, pd.Series([], dtype="datetime64[ns, UTC]"))
    assert list(found) == ["selection-rates", "ranking", "exposure-curves", "responses-over-time"]
    assert "Real photos 70.0 % (53.0 % to 83.0 %, n 40)" in found["selection-rates"].summary
    assert found["ranking"].summary.startswith("Scores, best first, with intervals: Real photos 0.00")
    assert "CRN 400 ms" in found["exposure-curves"].summary
    assert found["responses-over-time"].summary.startswith("2 answers recorded from 2024-05-01 09:00")
    assert list(charts.results_figures(results, frame, pd.Series([], dtype=object))) == list(found)


# --- The page, the image view and the exports (database) -----------------------------------------


def decoded(value) -> np.ndarray:
    """An array from figure JSON: a plain list, or plotly's base64 typed array {dtype, bdata, shape}."""
    if isinstance(value, dict):
        shape = [int(size) for size in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value, dtype=float)


def chart_url(survey, name, fmt):
    return reverse("analysis:survey_chart", args=[survey.pk, name, fmt])


@pytest.mark.django_db
def test_completion_times_are_the_completed_participants(known_survey):
    survey = known_survey[0]
    times = selectors.survey_completion_times(survey=survey)
    assert len(times) == 1 and str(times.dt.tz) == "UTC"


@pytest.mark.django_db
def test_results_page_embeds_each_chart_and_loads_plotly_from_the_site(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(reverse("analysis:survey_results", args=[survey.pk]), {"completed_only": "1"})
    html = response.content.decode()
    names = [chart["name"] for chart in response.context["charts"]]
    assert names == ["selection-rates", "ranking", "responses-over-time"]
    for name in names:
        assert f'<script id="chart-{name}-figure" type="application/json">' in html
        assert f'{chart_url(survey, name, "svg")}?completed_only=1' in html
        assert f'{chart_url(survey, name, "png")}?completed_only=1' in html
        assert f'id="chart-{name}-caption"' in html
    assert reverse("analysis:plotly_js") in html and "analysis/charts.js" in html
    assert "cdn" not in html.lower()
    assert reverse("analysis:survey_export", args=[survey.pk, "charts"]) in html
    selection = response.context["charts"][0]["figure"]["data"][0]
    assert selection["x"] == ["A", "B", "C"]
    assert decoded(selection["customdata"])[:, 2].tolist() == [6, 4, 2]  # comparisons of the completed participant


def test_real_fake_results_page_charts_the_judged_real_rates_per_exposure(real_fake_survey, researcher_client):
    response = researcher_client.get(reverse("analysis:survey_results", args=[real_fake_survey.pk]))
    found = {chart["name"]: chart for chart in response.context["charts"]}
    assert list(found)[0] == "selection-rates" and "responses-over-time" in found
    assert found["selection-rates"]["heading"] == "Judged real, per arm"
    traces = found["selection-rates"]["figure"]["data"]
    assert [trace["name"] for trace in traces] == ["250 ms", "1000 ms"]
    assert traces[0]["x"] == ["photos", "refined"]
    np.testing.assert_allclose(decoded(traces[0]["y"]), [2 / 3, 3 / 4])
    assert len(decoded(found["responses-over-time"]["figure"]["data"][0]["y"])) == 11


@pytest.mark.django_db
def test_chart_images_need_a_login(client, known_survey):
    response = client.get(chart_url(known_survey[0], "ranking", "svg"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name, fmt", [("ranking", "gif"), ("exposure-curves", "svg"), ("nothing", "png")])
def test_unknown_charts_and_formats_are_not_found(researcher_client, known_survey, name, fmt):
    assert researcher_client.get(chart_url(known_survey[0], name, fmt)).status_code == 404


@pytest.mark.django_db
def test_without_a_browser_the_image_view_says_what_is_missing(researcher_client, known_survey, settings):
    settings.EVALSITE_CHROMIUM = NO_BROWSER
    response = researcher_client.get(chart_url(known_survey[0], "ranking", "png"))
    assert response.status_code == 503
    assert static_charts.UNAVAILABLE in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db
def test_without_a_browser_the_charts_export_says_what_is_missing(researcher_client, known_survey, settings):
    settings.EVALSITE_CHROMIUM = NO_BROWSER
    response = researcher_client.get(reverse("analysis:survey_export", args=[known_survey[0].pk, "charts"]))
    assert response.status_code == 503
    assert static_charts.UNAVAILABLE in response.content.decode()


@pytest.mark.django_db
def test_without_a_browser_the_command_fails_with_the_reason(known_survey, settings, tmp_path):
    settings.EVALSITE_CHROMIUM = NO_BROWSER
    with pytest.raises(CommandError, match="static charts need Chromium"):
        call_command("export_results", known_survey[0].slug, format="charts", output=str(tmp_path / "c.zip"))
    assert not (tmp_path / "c.zip").exists()


def test_a_program_that_is_not_a_browser_gives_the_same_clear_error(settings, tmp_path):
    not_a_browser = tmp_path / "chromium"
    not_a_browser.write_text("#!/bin/sh\nexit 1\n")
    not_a_browser.chmod(0o755)
    settings.EVALSITE_CHROMIUM = str(not_a_browser)
    figure = charts.responses_over_time_figure(pd.Series(pd.to_datetime(["2024-05-01T09:00Z"])), None)
    with pytest.raises(static_charts.StaticChartsUnavailable, match="static charts need Chromium") as caught:
        static_charts.render_image(figure, "svg")
    assert f"the browser at {not_a_browser} did not start" in str(caught.value)


def assert_svg_names_the_arms(svg: bytes, arms) -> None:
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(element.text or "" for element in root.iter())
    for arm in arms:
        assert arm in text


def assert_png_size(png: bytes) -> None:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (charts.WIDTH * static_charts.PNG_SCALE, charts.HEIGHT * static_charts.PNG_SCALE)


def test_static_images_of_hand_built_results():
    needs_chromium()
    results = pairwise_results(arms=arms_frame(), ranking=ranking_frame(), exposure_curves=curves_frame(),
                               thresholds=thresholds_frame())
    figures = {name: figure for name, figure in charts.results_figures(
        results, pd.DataFrame({"created_at": []}), pd.Series([], dtype=object)).items()}
    images = static_charts.render_images(figures, ["svg", "png"])
    assert set(images) == {(name, fmt) for name in figures for fmt in ("svg", "png")}
    assert_svg_names_the_arms(images[("selection-rates", "svg")], ["Real photos", "DCGAN", "Multi-stage"])
    assert_svg_names_the_arms(images[("exposure-curves", "svg")], ["CRN", "Pix2pix"])
    for name in figures:
        assert_png_size(images[(name, "png")])


@pytest.mark.django_db
def test_the_image_view_renders_svg_png_and_pdf(researcher_client, known_survey):
    needs_chromium()
    survey = known_survey[0]
    svg = researcher_client.get(chart_url(survey, "selection-rates", "svg"))
    assert svg["Content-Type"] == "image/svg+xml"
    assert f'filename="{survey.slug}-selection-rates.svg"' in svg["Content-Disposition"]
    assert_svg_names_the_arms(svg.content, ["A", "B", "C"])
    assert_png_size(researcher_client.get(chart_url(survey, "ranking", "png")).content)
    assert researcher_client.get(chart_url(survey, "ranking", "pdf")).content.startswith(b"%PDF")


@pytest.mark.django_db
def test_charts_zip_holds_every_chart_as_svg_and_png(researcher_client, known_survey):
    needs_chromium()
    survey = known_survey[0]
    response = researcher_client.get(reverse("analysis:survey_export", args=[survey.pk, "charts"]))
    assert response["Content-Type"] == "application/zip"
    assert f'filename="{survey.slug}-charts.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = ["selection-rates", "ranking", "responses-over-time"]
    assert sorted(archive.namelist()) == sorted(
        [f"{survey.slug}-{name}.{fmt}" for name in names for fmt in ("svg", "png")] + [f"{survey.slug}-charts.txt"]
    )
    assert_svg_names_the_arms(archive.read(f"{survey.slug}-selection-rates.svg"), ["A", "B", "C"])
    for name in names:
        assert_png_size(archive.read(f"{survey.slug}-{name}.png"))
    assert "Judged more realistic, per arm" in archive.read(f"{survey.slug}-charts.txt").decode()


@pytest.mark.django_db
def test_export_command_writes_the_charts_zip(known_survey, tmp_path):
    needs_chromium()
    out = io.StringIO()
    target = tmp_path / "charts.zip"
    call_command("export_results", known_survey[0].slug, format="charts", output=str(target), stdout=out)
    assert out.getvalue().strip() == str(target.resolve())
    names = zipfile.ZipFile(target).namelist()
    assert len([name for name in names if name.endswith(".png")]) == 3


def test_a_long_timeline_is_thinned_but_keeps_its_first_and_last_count():
    answers = pd.Series(pd.date_range("2024-05-01", periods=20_000, freq="s", tz="UTC"))
    figure = charts.responses_over_time_figure(answers, None)
    trace = figure.data[0]
    counts = list(trace.y)
    assert len(counts) == charts.MAX_TIMELINE_POINTS
    assert counts[0] == 1 and counts[-1] == 20_000
    assert all(later > earlier for earlier, later in zip(counts, counts[1:]))
    # Each kept point is the true count at its time: the i-th answer (1-based) arrived i-1 s after the first.
    assert [(pd.Timestamp(x) - pd.Timestamp("2024-05-01")).total_seconds() + 1 for x in trace.x[:3]] == counts[:3]


def test_a_single_answer_is_drawn_with_a_marker():
    figure = charts.responses_over_time_figure(pd.Series(pd.to_datetime(["2024-05-01T09:00Z"])), None)
    assert "markers" in figure.data[0].mode

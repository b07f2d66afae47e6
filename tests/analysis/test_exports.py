import io
import math

import openpyxl
import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse

from analysis import exports, stats, tables, views
from tests.analysis import report_frames
from tests.analysis.conftest import make_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def results(known_survey):
    return tables.survey_results(survey=known_survey[0])


# Display formatting.


@pytest.mark.parametrize(
    "p, shown",
    [(0.14834, "0.148"), (0.2966893, "0.297"), (1.0, "1.000"), (0.001, "0.001"), (1.2e-08, "1.2e-08"),
     (0.000999, "1.0e-03"), (math.nan, "—")],
)
def test_p_values_read_as_decimals_until_too_small(p, shown):
    assert exports.format_p_value(p) == shown


def test_rates_and_intervals_read_as_percentages_with_one_decimal():
    assert exports.format_percent(0.517) == "51.7 %"
    assert exports.format_interval(*stats.clopper_pearson(517, 1000)) == "48.6–54.8 %"
    assert exports.format_percent(math.nan) == "—"
    assert exports.format_interval(math.nan, math.nan) == "—"


# CSV.


def test_csv_parses_back_to_the_same_numbers(results):
    parsed = pd.read_csv(io.StringIO(exports.results_csv(results)))
    table = results.table
    assert list(parsed.columns) == tables.PAIRWISE_COLUMNS + ["test", "interval", "wilson_interval", "adjustment"]
    assert parsed.arm_a.tolist() == table.arm_a.tolist()
    assert parsed.arm_b.tolist() == table.arm_b.tolist()
    for column in ["n", "wins_a", "wins_b"]:
        assert parsed[column].tolist() == table[column].tolist()
    for column in ["selection_rate_a", "p_value", "ci_low", "ci_high", "wilson_low", "wilson_high", "p_holm"]:
        # Exact: CSV carries full precision, and an unanswered pair stays empty (NaN).
        pd.testing.assert_series_equal(parsed[column], table[column], check_dtype=False, rtol=0, atol=0)


def test_csv_names_its_methods_on_every_row(results):
    parsed = pd.read_csv(io.StringIO(exports.results_csv(results)))
    assert set(parsed.test) == {stats.TEST_NAME}
    assert set(parsed.interval) == {stats.INTERVAL_NAME}
    assert set(parsed.wilson_interval) == {stats.WILSON_NAME} and set(parsed.adjustment) == {stats.HOLM_NAME}


# Excel.


def test_xlsx_has_a_results_sheet_and_an_about_sheet(results):
    workbook = openpyxl.load_workbook(io.BytesIO(exports.results_xlsx(results)))
    assert workbook.sheetnames == ["results", "ranking", "arms", "about"]
    sheet = workbook["results"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == tables.PAIRWISE_COLUMNS + ["test", "interval", "wilson_interval", "adjustment"]
    assert rows[1][:5] == ("A", "B", 10, 7, 3)
    assert rows[1][6] == pytest.approx(results.table.p_value.iloc[0], abs=1e-15)


def test_xlsx_about_sheet_tells_survey_counts_and_methods(results):
    workbook = openpyxl.load_workbook(io.BytesIO(exports.results_xlsx(results)))
    about = dict(list(workbook["about"].iter_rows(values_only=True))[1:])
    assert about["survey"] == "known"
    assert about["participants started"] == 3
    assert about["participants completed"] == 1
    assert about["responses counted"] == 13
    assert about["responses counted are"] == tables.SCOPE_ALL
    assert about["test"] == stats.TEST_NAME
    assert about["interval"] == stats.INTERVAL_NAME
    assert about["exported at (UTC)"].startswith(f"{results.summary['generated_at']:%Y-%m-%d}")


def test_xlsx_reads_back_with_pandas(results):
    parsed = pd.read_excel(io.BytesIO(exports.results_xlsx(results)), sheet_name="results")
    assert parsed.n.tolist() == results.table.n.tolist()
    pd.testing.assert_series_equal(parsed.ci_high, results.table.ci_high, check_dtype=False)


# Markdown.


def test_markdown_has_a_row_per_pair_and_the_method_sentence(results):
    text = exports.results_markdown(results)
    lines = text.splitlines()
    assert ("| Arm A | Arm B | n | A preferred | B preferred | A selection rate | p | p (Holm) | 95 % CI "
            "| Wilson 95 % CI |") in lines
    ab = results.table.iloc[0]
    assert (
        f"| A | B | 10 | 7 | 3 | 70.0 % | {exports.format_p_value(ab.p_value)} | {exports.format_p_value(ab.p_holm)} "
        f"| {exports.format_interval(ab.ci_low, ab.ci_high)} | {exports.format_interval(ab.wilson_low, ab.wilson_high)} |"
    ) in lines
    # Holm over the two answered pairs: 0.344 and 0.250 become 0.500 and 0.500.
    assert "| A | C | 3 | 0 | 3 | 0.0 % | 0.250 | 0.500 | 0.0–70.8 % | 0.0–56.1 % |" in lines
    assert "| B | C | 0 | 0 | 0 | — | — | — | — | — |" in lines
    for name in (stats.TEST_NAME, stats.INTERVAL_NAME, stats.WILSON_NAME, stats.HOLM_NAME):
        assert name in text
    assert "13 responses (all recorded answers) from 3 participants started, 1 completed" in text


def test_markdown_escapes_pipes_in_arm_labels(db):
    survey, _ = make_survey("pipes", [("a|b", 0), ("c", 1)])
    text = exports.results_markdown(tables.survey_results(survey=survey))
    assert "| a\\|b | c | 0 |" in text


def test_markdown_table_aligns_numbers_right():
    table = exports.markdown_table(["name", "n"], [["x", 1]], numeric=[False, True])
    assert table.splitlines() == ["| name | n |", "| --- | ---: |", "| x | 1 |"]


def test_export_filenames_use_the_slug(results):
    slug = results.summary["survey_slug"]
    assert exports.export_filename(results.summary, "csv") == f"{slug}-results.csv"
    assert exports.export_filename(results.summary, "xlsx") == f"{slug}-results.xlsx"
    assert exports.export_filename(results.summary, "md") == f"{slug}-results.md"


# The newer tables: display formats, Markdown, Excel, LaTeX download, the page.


@pytest.fixture
def full_results(results):
    return report_frames.with_every_table(results)


def test_thresholds_read_in_ms_and_a_missing_fit_as_dashes():
    first, flat = exports.threshold_display_rows(report_frames.thresholds_frame())
    assert (first["threshold"], first["interval"], first["slope"], first["floor"]) == ("412 ms", "300–1,561 ms", "2.31",
                                                                                         "50.0 %")
    assert (first["converged"], first["failed_rounds"], first["note"]) == ("yes", 0, "")
    assert (flat["threshold"], flat["interval"], flat["slope"], flat["converged"]) == ("—", "—", "—", "no")
    assert flat["note"].startswith("every trial succeeded")


def test_hype_infinity_reads_as_percent_and_hype_time_in_ms():
    infinity, time = exports.hype_display_rows(report_frames.hype_frame())
    assert (infinity["score"], infinity["value"], infinity["interval"]) == ("HYPE∞", "27.3 %", "21.4–33.1 %")
    assert (time["score"], time["value"], time["interval"]) == ("HYPE_time", "368 ms", "310–1,421 ms")
    assert (time["participants"], time["n"]) == (10, 300)


def test_curve_and_matched_rows_read_as_percentages():
    curve = exports.exposure_curve_display_rows(report_frames.curves_frame())[0]
    assert (curve["exposure"], curve["n"], curve["successes"], curve["rate"], curve["interval"]) == (
        "125 ms", 40, 22, "55.0 %", "38.5–70.7 %")
    matched = exports.matched_display_rows(report_frames.matched_frame())[2]
    assert (matched["group"], matched["iterations"], matched["training_hours"], matched["rate"]) == (
        "≈ 75.60 h", "4,000", "76.00", "23.1 %")


def test_missing_tables_have_no_display_rows():
    for helper in (exports.exposure_curve_display_rows, exports.threshold_display_rows, exports.hype_display_rows,
                   exports.matched_display_rows):
        assert helper(None) == []


def test_markdown_shows_every_new_table_under_its_heading(full_results):
    text = exports.results_markdown(full_results)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[1:] == ["### Ranking", "### Arms", "### Equal iterations", "### Equal training time",
                            "### Exposure curves", "### Thresholds", "### HYPE scores"]
    assert "| 6,000 iterations | multi-stage | progressive | 6,000 | 75.20 | 300 | 50.8 % | 45.0–56.6 % |" in text
    assert "| ≈ 75.60 h | gan | dcgan | 4,000 | 76.00 | 300 | 23.1 % | 18.4–28.3 % |" in text
    assert "| gan | generated | 1000 ms | 40 | 34 | 85.0 % | 70.2–94.3 % |" in text
    assert "| gan | generated | 412 ms | 300–1,561 ms | 2.31 | 50.0 % | yes | 0 |" in text
    assert "| flat | generated | — | — | — | 50.0 % | no | 0 |" in text
    assert "- flat (real preferred): every trial succeeded at every exposure: nothing to fit" in text
    assert "| HYPE∞ | gan | 27.3 % | 21.4–33.1 % | 10 | 400 |" in text
    assert "| HYPE_time | gan | 368 ms | 310–1,421 ms | 10 | 300 |" in text
    assert stats.HYPE_INFINITY_NAME in text and "Measure: judged more realistic." in text


def test_markdown_aligns_each_sections_numbers_right(full_results):
    lines = exports.results_markdown(full_results).splitlines()
    thresholds_rule = lines[lines.index("### Thresholds") + 3]
    assert thresholds_rule == "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |"


def test_markdown_leaves_out_tables_without_data(results):
    text = exports.results_markdown(report_frames.with_no_new_table(results))
    for title in ("Equal iterations", "Exposure curves", "Thresholds", "HYPE scores"):
        assert title not in text


def test_xlsx_has_a_sheet_per_section_at_full_precision(full_results):
    workbook = io.BytesIO(exports.results_xlsx(full_results))
    assert openpyxl.load_workbook(workbook).sheetnames == [
        "results", "ranking", "arms", "equal-iterations", "equal-training-time", "exposure-curves", "thresholds",
        "hype", "about"]
    hype = pd.read_excel(workbook, sheet_name="hype")
    assert list(hype.columns) == tables.HYPE_COLUMNS
    assert hype.value.tolist() == [0.273, 368.4]
    time = pd.read_excel(workbook, sheet_name="equal-training-time")
    assert time.arm.tolist() == ["gan", "multi-stage"] and set(time.comparison) == {"equal training time"}


def test_latex_is_a_registered_format(results):
    tex = exports.EXPORT_FORMATS["tex"]
    assert (tex.extension, tex.content_type) == ("tex", "application/x-tex; charset=utf-8")
    assert exports.export_filename(results.summary, "tex") == f"{results.summary['survey_slug']}-results.tex"
    assert tex.render(results).startswith("% evalsite results: survey known")


def test_latex_download(researcher_client, known_survey):
    survey = known_survey[0]
    page = researcher_client.get(reverse("analysis:survey_results", args=[survey.pk])).content.decode()
    assert reverse("analysis:survey_export", args=[survey.pk, "tex"]) in page
    response = researcher_client.get(reverse("analysis:survey_export", args=[survey.pk, "tex"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-tex; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{survey.slug}-results.tex"'
    assert r"A & B & 10 & 7 & 3 & 70.0 \% &" in response.content.decode()


def test_export_command_writes_latex(known_survey):
    out = io.StringIO()
    call_command("export_results", known_survey[0].slug, "--format", "tex", stdout=out)
    assert r"\begin{tabular}{llrrrrrrrr}" in out.getvalue()


def test_results_page_shows_the_new_tables(researcher_client, known_survey, monkeypatch):
    real_results = tables.survey_results
    monkeypatch.setattr(views.tables, "survey_results",
                        lambda **options: report_frames.with_every_table(real_results(**options)))
    html = researcher_client.get(reverse("analysis:survey_results", args=[known_survey[0].pk])).content.decode()
    for heading in ("<h2>Equal iterations / equal training time</h2>", "<h3>Equal iterations</h3>",
                    "<h3>Equal training time</h3>", "<h2>Exposure curves</h2>", "<h3>Thresholds</h3>",
                    "<h2>HYPE scores</h2>"):
        assert heading in html
    assert '<th scope="row">HYPE∞</th><td>gan</td><td class="num">27.3 %</td>' in html
    assert '<td class="num">412 ms</td><td class="num">300–1,561 ms</td>' in html
    assert "<li>flat (real preferred): every trial succeeded at every exposure: nothing to fit</li>" in html
    assert '<th scope="col" class="num">Training hours</th>' in html


def test_results_page_without_the_new_tables_has_no_empty_sections(researcher_client, known_survey):
    html = researcher_client.get(reverse("analysis:survey_results", args=[known_survey[0].pk])).content.decode()
    for heading in ("Equal iterations", "Exposure curves", "HYPE scores"):
        assert heading not in html

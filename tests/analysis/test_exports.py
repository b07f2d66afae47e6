import io
import math

import openpyxl
import pandas as pd
import pytest

from analysis import exports, stats, tables
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
    assert workbook.sheetnames == ["results", "arms", "about"]
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
    table = exports.markdown_table(["name", "n"], [["x", 1]], numeric_from=1)
    assert table.splitlines() == ["| name | n |", "| --- | ---: |", "| x | 1 |"]


def test_export_filenames_use_the_slug(results):
    slug = results.summary["survey_slug"]
    assert exports.export_filename(results.summary, "csv") == f"{slug}-results.csv"
    assert exports.export_filename(results.summary, "xlsx") == f"{slug}-results.xlsx"
    assert exports.export_filename(results.summary, "md") == f"{slug}-results.md"

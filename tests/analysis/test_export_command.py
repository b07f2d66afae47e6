import io

import openpyxl
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from analysis import stats
from surveys.models import Survey
from tests.analysis.conftest import make_survey

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command("export_results", *args, stdout=out, **options)
    return out.getvalue()


def test_csv_to_stdout_by_id(known_survey):
    survey = known_survey[0]
    parsed = pd.read_csv(io.StringIO(run(str(survey.pk), format="csv")))
    assert parsed[["arm_a", "arm_b", "n", "wins_a"]].values.tolist() == [["A", "B", 10, 7], ["A", "C", 3, 0], ["B", "C", 0, 0]]


def test_csv_is_the_default_format(known_survey):
    assert run(known_survey[0].slug).startswith("arm_a,arm_b,n,")


def test_survey_found_by_id_slug_and_name_alike(known_survey):
    survey = known_survey[0]
    by_id = run(str(survey.pk))
    assert run(survey.slug) == by_id
    assert run("known") == by_id


def test_markdown_to_stdout_states_the_method(known_survey):
    text = run(known_survey[0].slug, format="md")
    assert stats.TEST_NAME in text
    assert "| B | C | 0 | 0 | 0 |" in text


def test_completed_only_counts_completed_participants(known_survey):
    parsed = pd.read_csv(io.StringIO(run(known_survey[0].slug, completed_only=True)))
    assert parsed.n.tolist() == [4, 2, 0]


def test_completed_only_from_the_command_line_flag(known_survey):
    parsed = pd.read_csv(io.StringIO(run(known_survey[0].slug, "--completed-only", "--format", "csv")))
    assert parsed.n.tolist() == [4, 2, 0]


def test_output_file_gets_the_export_and_stdout_the_path(known_survey, tmp_path):
    target = tmp_path / "out.csv"
    printed = run(known_survey[0].slug, format="csv", output=str(target))
    assert printed.strip() == str(target.resolve())
    assert pd.read_csv(target).n.tolist() == [10, 3, 0]


def test_xlsx_to_a_named_file(known_survey, tmp_path):
    target = tmp_path / "results.xlsx"
    run(known_survey[0].slug, "--format", "xlsx", "--output", str(target))
    assert openpyxl.load_workbook(target).sheetnames == ["results", "ranking", "arms", "about"]


def test_xlsx_without_output_goes_to_slug_file_in_the_current_folder(known_survey, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    survey = known_survey[0]
    printed = run(survey.slug, format="xlsx")
    expected = tmp_path / f"{survey.slug}-results.xlsx"
    assert printed.strip() == str(expected.resolve())
    assert openpyxl.load_workbook(expected).sheetnames == ["results", "ranking", "arms", "about"]


def test_unknown_survey_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No survey has the id, slug or name 'nope'"):
        run("nope")


def test_unknown_numeric_id_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No survey has the id, slug or name '999999'"):
        run("999999")


def test_ambiguous_name_asks_for_id_or_slug(db):
    make_survey("twin", [("A", 0), ("B", 1)])
    Survey.objects.create(name="twin")
    with pytest.raises(CommandError, match="Several surveys are named 'twin'"):
        run("twin")


def test_unknown_format_is_refused(known_survey):
    with pytest.raises(CommandError):
        run(known_survey[0].slug, "--format", "pdf")

import io

import openpyxl
import pandas as pd
import pytest
from django.urls import reverse

from analysis import stats

pytestmark = pytest.mark.django_db


def results_url(survey):
    return reverse("analysis:survey_results", args=[survey.pk])


def export_url(survey, fmt):
    return reverse("analysis:survey_export", args=[survey.pk, fmt])


def test_urls_have_the_documented_shape(known_survey):
    survey = known_survey[0]
    assert results_url(survey) == f"/r/surveys/{survey.pk}/results/"
    assert export_url(survey, "csv") == f"/r/surveys/{survey.pk}/export.csv"


@pytest.mark.parametrize("fmt", [None, "csv", "xlsx", "md"])
def test_anonymous_visitors_are_sent_to_login(client, known_survey, fmt):
    survey = known_survey[0]
    url = results_url(survey) if fmt is None else export_url(survey, fmt)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_results_page_shows_the_table_counts_and_method(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(results_url(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert [(row["arm_a"], row["arm_b"], row["n"], row["wins_a"]) for row in response.context["rows"]] == [
        ("A", "B", 10, 7), ("A", "C", 3, 0), ("B", "C", 0, 0)
    ]
    assert '<td class="num">70.0 %</td>' in html
    assert '<td class="num">0.0–70.8 %</td>' in html
    assert "<strong>A</strong>" in html and "<strong>C</strong>" in html
    assert stats.TEST_NAME in html
    assert "Clopper–Pearson" in html
    assert "3 participants started" in html and "1 completed" in html
    assert "13 responses counted" in html
    for fmt in ["csv", "xlsx", "md"]:
        assert export_url(survey, fmt) in html


def test_results_page_can_count_completed_participants_only(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(results_url(survey), {"completed_only": "1"})
    assert [row["n"] for row in response.context["rows"]] == [4, 2, 0]
    assert f'{export_url(survey, "csv")}?completed_only=1' in response.content.decode()


def test_results_of_a_missing_survey_is_404(researcher_client, db):
    assert researcher_client.get(reverse("analysis:survey_results", args=[999999])).status_code == 404


def test_csv_download(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(export_url(survey, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{survey.slug}-results.csv"'
    assert pd.read_csv(io.BytesIO(response.content)).n.tolist() == [10, 3, 0]


def test_xlsx_download(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(export_url(survey, "xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == f'attachment; filename="{survey.slug}-results.xlsx"'
    assert openpyxl.load_workbook(io.BytesIO(response.content)).sheetnames == ["results", "ranking", "arms", "about"]


def test_markdown_download(researcher_client, known_survey):
    survey = known_survey[0]
    response = researcher_client.get(export_url(survey, "md"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{survey.slug}-results.md"'
    assert "| A | B | 10 | 7 | 3 |" in response.content.decode()


def test_download_counts_completed_only_when_asked(researcher_client, known_survey):
    response = researcher_client.get(export_url(known_survey[0], "csv"), {"completed_only": "1"})
    assert pd.read_csv(io.BytesIO(response.content)).n.tolist() == [4, 2, 0]


def test_unknown_export_format_is_404(researcher_client, known_survey):
    assert researcher_client.get(export_url(known_survey[0], "pdf")).status_code == 404

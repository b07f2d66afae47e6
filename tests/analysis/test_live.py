"""The live dashboard: its numbers on surveys with known answers, and the page and JSON around them."""
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysis import tables
from analysis.live import survey_live_status
from analysis.tables import RULE_EXCLUDED, RULE_INVALID, RULE_NOT_MEASURED
from surveys.models import Participant, Response, SurveyArm, Trial
from tests.analysis.conftest import answer, answer_pairs, make_pool_rows, make_survey

pytestmark = pytest.mark.django_db


def live_url(survey):
    return reverse("analysis:survey_live", args=[survey.pk])


def json_url(survey):
    return reverse("analysis:survey_live_json", args=[survey.pk])


def arm_numbers(status) -> dict[str, tuple[int, int]]:
    return {arm["label"]: (arm["recorded"], arm["counted"]) for arm in status["arms"]}


def exclusion_numbers(status) -> dict[str, tuple[int, int]]:
    return {rule["rule"]: (rule["answers"], rule["participants"]) for rule in status["exclusions"]}


@pytest.fixture
def messy_survey(known_survey):
    """known_survey (13 valid main answers, 3 participants) plus every kind of answer that does not count.

    - an attention check (A against an attention-only arm) answered by the partial participant;
    - one of the partial participant's main answers (A-B) flagged invalid;
    - a participant excluded after attention checks, with 2 main answers (A-C, B-C);
    - a participant screened out by the qualification, with 1 main answer (A-B).
    """
    survey, arms = known_survey
    bad = SurveyArm.objects.create(survey=survey, pool=make_pool_rows("known/bad"), label="Bad", position=9,
                                   role=SurveyArm.Role.ATTENTION_BAD)
    partial = survey.participants.filter(completed_at__isnull=True).exclude(trials=None).get()
    attention = answer(partial, arms["A"], bad, "left", correct=True)
    Trial.objects.filter(pk=attention.trial_id).update(phase=Trial.Phase.ATTENTION, expected_choice="left")
    Response.objects.filter(pk=partial.trials.get(position=0).response.pk).update(valid=False)
    excluded = Participant.objects.create(survey=survey, exclusion_reason="failed 2 of 2 attention checks")
    answer_pairs(excluded, arms, [("A", "C", "A"), ("B", "C", "C")])
    screened = Participant.objects.create(survey=survey, screened_out_at=timezone.now(),
                                          exclusion_reason="screened out: 20 % on real")
    answer_pairs(screened, arms, [("A", "B", "B")])
    return survey, arms


# --- The numbers -----------------------------------------------------------------------------------


def test_known_survey_numbers(known_survey):
    status = survey_live_status(survey=known_survey[0])
    assert status["participants"] == {
        "started": 3, "completed": 1, "in_progress": 2, "excluded": 0, "screened_out": 0, "completion_rate": 1 / 3,
    }
    assert (status["answers"]["recorded"], status["answers"]["counted"]) == (13, 13)
    # Every trial showed A; B was in the 10 A-B trials, C in the 3 A-C trials.
    assert arm_numbers(status) == {"A": (13, 13), "B": (10, 10), "C": (3, 3)}
    assert [arm["label"] for arm in status["arms"]] == ["A", "B", "C"]  # the results page's order
    assert all(rule["answers"] == 0 for rule in status["exclusions"])


def test_excluded_invalid_and_attention_answers_are_recorded_but_not_counted(messy_survey):
    status = survey_live_status(survey=messy_survey[0])
    participants = status["participants"]
    assert (participants["started"], participants["completed"], participants["in_progress"]) == (5, 1, 3)
    # The screened-out participant is counted once, as screened out, not also as excluded.
    assert (participants["excluded"], participants["screened_out"]) == (1, 1)
    assert status["answers"]["recorded"] == 13 + 1 + 2 + 1
    assert status["answers"]["counted"] == 13 - 1
    removed = {rule: numbers for rule, numbers in exclusion_numbers(status).items() if numbers != (0, 0)}
    assert removed == {RULE_NOT_MEASURED: (1, 1), RULE_EXCLUDED: (3, 2), RULE_INVALID: (1, 1)}
    # Main answers only: the attention check showed A but is no answer of A's; the attention arm is not listed.
    assert arm_numbers(status) == {"A": (13 + 1 + 1, 12), "B": (10 + 1 + 1, 9), "C": (3 + 2, 3)}


def test_counted_answers_equal_the_results_pages(messy_survey):
    survey = messy_survey[0]
    status = survey_live_status(survey=survey)
    results = tables.survey_results(survey=survey)
    assert status["answers"]["counted"] == results.summary["responses_counted"]
    assert [(e["rule"], e["answers"], e["participants"]) for e in status["exclusions"]] == [
        (e.rule, e.responses, e.participants) for e in results.summary["exclusions"]
    ]
    shown_in_pairs = {label: 0 for label in ("A", "B", "C")}
    for row in results.table.itertuples():
        shown_in_pairs[row.arm_a] += row.n
        shown_in_pairs[row.arm_b] += row.n
    assert {label: counted for label, (_, counted) in arm_numbers(status).items()} == shown_in_pairs


def test_recent_answers_and_the_last_answer_time(known_survey):
    survey = known_survey[0]
    ids = list(Response.objects.filter(trial__participant__survey=survey).order_by("id").values_list("id", flat=True))
    latest = timezone.now().replace(microsecond=0) - timedelta(seconds=30)
    Response.objects.filter(pk__in=ids[:10]).update(created_at=latest - timedelta(minutes=20))
    Response.objects.filter(pk__in=ids[10:12]).update(created_at=latest - timedelta(minutes=1))
    Response.objects.filter(pk=ids[12]).update(created_at=latest)

    answers = survey_live_status(survey=survey)["answers"]
    assert answers["last_minutes"] == 3
    assert answers["recent_window_minutes"] == 5
    assert answers["last_at"] == latest.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_median_minutes_of_completed_participants(db):
    survey, _ = make_survey("timed", [("A", 0), ("B", 1)])
    now = timezone.now()
    for minutes in (4, 10, 30):
        participant = Participant.objects.create(survey=survey, completed_at=now)
        Participant.objects.filter(pk=participant.pk).update(created_at=now - timedelta(minutes=minutes))
    Participant.objects.create(survey=survey)  # still going: no time to complete yet
    status = survey_live_status(survey=survey)
    assert status["median_minutes_completed"] == 10.0
    assert status["participants"]["completion_rate"] == 0.75


def test_a_survey_nobody_has_started(db):
    survey, _ = make_survey("silent", [("A", 0), ("B", 1)])
    status = survey_live_status(survey=survey)
    assert status["participants"]["started"] == 0
    assert status["participants"]["completion_rate"] is None
    assert status["median_minutes_completed"] is None
    assert status["answers"] == {"recorded": 0, "counted": 0, "last_minutes": 0, "recent_window_minutes": 5,
                                 "last_at": None}
    assert arm_numbers(status) == {"A": (0, 0), "B": (0, 0)}
    assert status["charts"]["responses_over_time"] is None
    json.dumps(status, allow_nan=False)


def test_real_fake_answers_count_toward_the_one_arm_shown(db):
    survey, arms = make_survey("verdicts", [("Real", 0), ("GAN", 1)])
    participant = Participant.objects.create(survey=survey)
    for arm, choice in ((arms["Real"], "real"), (arms["GAN"], "generated"), (arms["GAN"], "real")):
        trial = Trial.objects.create(participant=participant, position=participant.trials.count(), left_arm=arm,
                                     left_image=arm.pool.images.first())
        Response.objects.create(trial=trial, choice=choice)
    assert arm_numbers(survey_live_status(survey=survey)) == {"Real": (1, 1), "GAN": (2, 2)}


def test_status_is_plain_json_with_the_charts(messy_survey):
    status = survey_live_status(survey=messy_survey[0])
    assert json.loads(json.dumps(status, allow_nan=False)) == status
    over_time = status["charts"]["responses_over_time"]
    assert [trace["name"] for trace in over_time["data"]] == ["Answers recorded", "Participants completed"]
    assert over_time["data"][0]["y"][-1] == 17
    per_arm = status["charts"]["answers_per_arm"]
    assert [(trace["name"], trace["y"]) for trace in per_arm["data"]] == [
        ("Recorded", [15, 12, 5]), ("Counted", [12, 9, 3])
    ]
    assert status["survey"] == {"id": messy_survey[0].pk, "name": "known", "status": "open", "status_label": "Open"}


# --- The JSON and the page -------------------------------------------------------------------------


@pytest.mark.parametrize("url_of", [live_url, json_url])
def test_anonymous_visitors_are_sent_to_login(client, known_survey, url_of):
    response = client.get(url_of(known_survey[0]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_urls_have_the_documented_shape(known_survey):
    survey = known_survey[0]
    assert live_url(survey) == f"/r/surveys/{survey.pk}/live/"
    assert json_url(survey) == f"/r/surveys/{survey.pk}/live.json"


def test_json_is_never_stored(researcher_client, messy_survey):
    response = researcher_client.get(json_url(messy_survey[0]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"survey", "generated_at", "participants", "answers", "median_minutes_completed", "arms",
                         "exclusions", "summary", "charts"}
    assert body["answers"]["recorded"] == 17
    assert body["generated_at"].endswith("Z")


def test_json_of_a_missing_survey_is_404(researcher_client):
    assert researcher_client.get(reverse("analysis:survey_live_json", args=[999999])).status_code == 404


def test_json_reads_the_database_a_fixed_number_of_times(researcher_client, known_survey):
    survey, arms = known_survey
    with CaptureQueriesContext(connection) as small:
        researcher_client.get(json_url(survey))
    for _ in range(5):
        answer_pairs(Participant.objects.create(survey=survey, completed_at=timezone.now()), arms,
                     [("A", "B", "A"), ("B", "C", "B")])
    with CaptureQueriesContext(connection) as larger:
        researcher_client.get(json_url(survey))
    assert len(larger) == len(small)


def test_page_shows_the_numbers_without_javascript(researcher_client, messy_survey):
    survey = messy_survey[0]
    response = researcher_client.get(live_url(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html
    assert '<dd data-field="answers.recorded">17</dd>' in html
    assert '<dd data-field="answers.counted">12</dd>' in html
    assert '<dd data-field="participants.completion_rate" data-format="percent">20.0 %</dd>' in html
    assert "<th scope=\"row\">A</th><td class=\"num\">15</td><td class=\"num\">12</td>" in html
    assert 'aria-live="polite"' in html and "17 answers recorded (12 counted)" in html
    assert reverse("analysis:plotly_js") in html and "cdn" not in html.lower()
    assert 'id="live-status"' in html  # the first figures, drawn before the first poll
    assert "no-store" in response["Cache-Control"]


def test_survey_detail_and_results_pages_link_the_dashboard(researcher_client, known_survey):
    survey = known_survey[0]
    for page in ("surveys:survey_detail", "analysis:survey_results"):
        html = researcher_client.get(reverse(page, args=[survey.pk])).content.decode()
        assert f'href="{live_url(survey)}"' in html, page

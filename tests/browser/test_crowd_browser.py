"""Crowd workers take a short survey in Chromium and end where their platform expects them.

There is no internet here: Prolific's and MTurk's addresses are intercepted with page.route, and
what reached them (the URL, the posted form) is what the tests check. Skipping the completion
step (no redirect, no submission) leaves the browser on our done page and fails them.
"""
import re
from urllib.parse import parse_qs, urlencode

import pytest

from surveys import services
from surveys.models import Participant
from tests.browser.conftest import wait_answerable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRIALS = 3
PROLIFIC_CODE = "C0MPLETE1"
SANDBOX = "https://workersandbox.mturk.com"


@pytest.fixture
def survey(make_pool):
    pools = [make_pool("gan-a", count=4, kind="generated"), make_pool("gan-b", count=4, kind="generated")]
    survey = services.survey_create(name="crowd-browser", pools=pools, preset="questionnaire",
                                    trials_per_participant=TRIALS, prolific_completion_code=PROLIFIC_CODE)
    return services.survey_open(survey=survey)


def intercept(page, pattern: str) -> list:
    """Answer every request to ``pattern`` with a stand-in page; the requests are collected."""
    seen = []

    def fulfil(route):
        seen.append(route.request)
        route.fulfill(status=200, content_type="text/html", body="<!DOCTYPE html><title>platform</title><p>received</p>")

    page.route(pattern, fulfil)
    return seen


def take_the_survey(page, base_url: str, survey, params: dict) -> None:
    """Consent through the crowd link, read the instructions, answer every trial with the ← key."""
    page.goto(f"{base_url}/s/{survey.slug}/?{urlencode(params)}")
    page.locator("input[name=consent]").check()
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/instructions/$"))
    page.locator("a.button").click()
    page.wait_for_url(re.compile(r"/trial/$"))
    after = -1
    for _ in range(TRIALS):
        after = wait_answerable(page, after)["position"]
        page.keyboard.press("ArrowLeft")


def test_a_prolific_participant_ends_at_prolifics_completion_url(desktop, live_server, survey):
    page = desktop.new_page()
    reached = intercept(page, "https://app.prolific.com/**")
    params = {"PROLIFIC_PID": "5f1a2b3c4d5e6f7a8b9c0d1e", "STUDY_ID": "65aa00bb11cc22dd33ee44ff", "SESSION_ID": "s1234"}
    take_the_survey(page, live_server.url, survey, params)

    page.wait_for_url("https://app.prolific.com/**")
    assert page.url == f"https://app.prolific.com/submissions/complete?cc={PROLIFIC_CODE}"
    assert [request.method for request in reached] == ["GET"]
    participant = Participant.objects.get()
    assert participant.is_complete and participant.platform == "prolific"
    assert participant.worker_id == params["PROLIFIC_PID"] and participant.trials.filter(response__isnull=True).count() == 0


def test_an_mturk_worker_ends_with_the_hit_posted_to_externalsubmit(desktop, live_server, survey):
    page = desktop.new_page()
    reached = intercept(page, f"{SANDBOX}/**")
    params = {"assignmentId": "3ASSIGNMENTBROWSER", "hitId": "3HITBROWSER", "workerId": "A1BROWSER", "turkSubmitTo": SANDBOX}
    take_the_survey(page, live_server.url, survey, params)

    page.wait_for_url(f"{SANDBOX}/mturk/externalSubmit")
    participant = Participant.objects.get()
    assert participant.is_complete and participant.assignment_id == "3ASSIGNMENTBROWSER"
    [submitted] = reached
    assert submitted.method == "POST" and submitted.url == f"{SANDBOX}/mturk/externalSubmit"
    assert parse_qs(submitted.post_data) == {"assignmentId": ["3ASSIGNMENTBROWSER"],
                                             "completion_code": [participant.completion_code]}


def test_an_mturk_submission_host_outside_the_allowed_list_is_refused(desktop, live_server, survey, settings):
    settings.EVALSITE_MTURK_SUBMIT_HOSTS = ["https://www.mturk.com"]  # the sandbox is no longer allowed
    page = desktop.new_page()
    reached = intercept(page, f"{SANDBOX}/**")
    params = {"assignmentId": "3A", "hitId": "3H", "workerId": "A1", "turkSubmitTo": SANDBOX}
    page.goto(f"{live_server.url}/s/{survey.slug}/?{urlencode(params)}")
    assert "submission address is not one this study accepts" in page.locator("#refusal").inner_text()
    assert page.locator("input[name=consent]").count() == 0
    assert not reached and not Participant.objects.exists()

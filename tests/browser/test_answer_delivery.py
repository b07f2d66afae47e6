"""No answer is lost: a tab closed right after answering, a failing network, a page opened again later.

runner.js stores each answer in localStorage before sending it, sends it with fetch(keepalive),
retries network failures and 5xx with a backoff, and sends what is left over first when the page
is opened again. The first test fails without keepalive, the third without the localStorage queue.
"""
import json
import re
import time

import pytest

from surveys import services
from surveys.models import Participant, Response
from tests.browser.conftest import consent, wait_answerable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def survey(make_pool):
    pools = [make_pool("real", count=4, kind="real"), make_pool("generated", count=4, kind="generated")]
    return services.survey_open(survey=services.survey_create(name="delivery", pools=pools, trials_per_participant=3))


def responses(survey) -> list[Response]:
    return list(Response.objects.filter(trial__participant__survey=survey).order_by("trial__position"))


def eventually(check, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def queued(page) -> list[dict]:
    """The answers runner.js holds in localStorage for this page's participant."""
    return page.evaluate("""() => {
        const key = JSON.parse(document.getElementById("runner-config").textContent).queue_key;
        return JSON.parse(localStorage.getItem(key) || "[]");
    }""")


def test_answer_given_just_before_the_tab_closes_arrives(desktop, live_server, survey):
    page = desktop.new_page()
    consent(page, live_server.url, survey.slug)
    wait_answerable(page)
    held = []  # the answer's request, stopped in the browser: still in flight when the tab closes
    page.route(re.compile(r"/answer/$"), lambda route: held.append(route))
    page.keyboard.press("ArrowRight")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(20)  # lets Playwright hand the request to the route
    assert len(held) == 1 and responses(survey) == []
    page.close()
    # A keepalive request outlives its page; an ordinary fetch is cancelled with it (most of the time: a race).
    assert eventually(lambda: len(responses(survey)) == 1)
    assert responses(survey)[0].choice == "right"


def test_network_failure_and_server_error_are_retried_until_recorded(desktop, live_server, survey):
    page = desktop.new_page()
    attempts = []

    def fail_twice(route):
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("internetdisconnected")
        elif len(attempts) == 2:
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route(re.compile(r"/answer/$"), fail_twice)
    consent(page, live_server.url, survey.slug)
    wait_answerable(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#feedback:has-text('Trying again')")
    trial = wait_answerable(page, after=0)
    assert trial["position"] == 1 and len(attempts) == 3
    (recorded,) = responses(survey)
    assert recorded.choice == "left" and recorded.client_timing["attempts"] == 3
    assert queued(page) == []


def test_a_rate_limited_answer_waits_and_is_sent_again_not_dropped(desktop, live_server, survey):
    """A 429 is not a refusal of the answer: the runner keeps it queued and tries again after retry_after."""
    page = desktop.new_page()
    attempts = []

    def limit_once(route):
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.fulfill(status=429, headers={"Retry-After": "1"}, content_type="application/json",
                          body=json.dumps({"recorded": False, "error": "Too many requests.", "retry_after": 1}))
        else:
            route.continue_()

    page.route(re.compile(r"/answer/$"), limit_once)
    consent(page, live_server.url, survey.slug)
    wait_answerable(page)
    page.keyboard.press("ArrowLeft")
    trial = wait_answerable(page, after=0)
    assert trial["position"] == 1 and len(attempts) == 2
    (recorded,) = responses(survey)
    assert recorded.choice == "left" and recorded.client_timing["attempts"] == 2
    assert queued(page) == []


def test_answer_left_in_the_queue_is_sent_first_when_the_page_opens_again(desktop, live_server, survey):
    page = desktop.new_page()
    page.route(re.compile(r"/answer/$"), lambda route: route.abort("internetdisconnected"))
    consent(page, live_server.url, survey.slug)
    wait_answerable(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#feedback:has-text('Trying again')")
    assert [entry["choice"] for entry in queued(page)] == ["left"]
    page.close()
    assert responses(survey) == []  # nothing got through: only this browser's storage holds the answer

    again = desktop.new_page()
    again.goto(f"{live_server.url}/s/{survey.slug}/trial/")
    trial = wait_answerable(again)
    assert trial["position"] == 1  # the stored answer went first; the runner resumed after it
    (recorded,) = responses(survey)
    assert recorded.choice == "left" and recorded.trial.position == 0
    assert queued(again) == []


def test_the_done_page_comes_only_once_the_last_answer_is_recorded(desktop, live_server, survey):
    page = desktop.new_page()
    blocked = {"last": True}
    page.route(re.compile(r"/answer/$"),
               lambda route: route.abort("internetdisconnected") if blocked["last"] and _is_last(route) else route.continue_())
    consent(page, live_server.url, survey.slug)
    after = -1
    for _ in range(3):
        after = wait_answerable(page, after)["position"]
        page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#feedback:has-text('Trying again')")
    assert "/trial/" in page.url and len(responses(survey)) == 2
    blocked["last"] = False
    page.wait_for_url(re.compile(r"/done/$"))
    assert len(responses(survey)) == 3 and Participant.objects.get().is_complete


def _is_last(route) -> bool:
    return "position=2" in (route.request.post_data or "")


def test_a_refused_answer_is_shown_not_retried(desktop, live_server, survey):
    page = desktop.new_page()
    consent(page, live_server.url, survey.slug)
    wait_answerable(page)
    desktop.clear_cookies(name="sessionid")  # the session is gone: the server refuses with 403
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#runner[data-state=error]")
    assert "session has expired" in page.locator("#runner-error").inner_text()
    assert responses(survey) == [] and queued(page) == []

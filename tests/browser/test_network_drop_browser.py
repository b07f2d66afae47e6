"""A participant's network drops for 10 s in the middle of a survey: nothing lost, nothing doubled, they finish.

Chromium is taken offline (``context.set_offline``) for 10 s, and the participant answers while it is: the runner
keeps the answer in its localStorage queue and retries it with its backoff (0.5 s doubling, docs/participant-
protocol.md) until the network is back, then goes on. The runner shows the next trial only once an answer is
recorded (the reply carries what comes next), so an offline participant can give one answer, not several.

The second test drops the network at the worst moment: the answer reached the server and was recorded, but the
reply never came back. The runner cannot tell that from a lost request, so it sends the same answer again once
online; the server must answer "already recorded" (created: false), not store it twice nor refuse it.
"""
import re
import time

import pytest

from surveys import services
from surveys.models import Participant, Response
from tests.browser.conftest import consent, wait_answerable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRIALS = 6
OFFLINE_S = 10
KEYS = {"left": "ArrowLeft", "right": "ArrowRight"}


@pytest.fixture
def survey(make_pool):
    pools = [make_pool("real", count=6, kind="real"), make_pool("generated", count=6, kind="generated")]
    return services.survey_open(survey=services.survey_create(name="drop", pools=pools, trials_per_participant=TRIALS))


def responses(survey) -> list[Response]:
    return list(Response.objects.filter(trial__participant__survey=survey).order_by("trial__position"))


def queue_key(page) -> str:
    """Where runner.js keeps this participant's answer queue in localStorage (read on the trials page)."""
    return page.evaluate('() => JSON.parse(document.getElementById("runner-config").textContent).queue_key')


def queued(page, key: str) -> list[dict]:
    """The answers runner.js holds in localStorage under ``key``, not yet recorded."""
    return page.evaluate("(key) => JSON.parse(localStorage.getItem(key) || '[]')", key)


def choice_for(position: int) -> str:
    return "left" if position % 2 == 0 else "right"


def answer(page, after: int) -> int:
    """Answer the next trial after ``after``; its position."""
    position = wait_answerable(page, after)["position"]
    page.keyboard.press(KEYS[choice_for(position)])
    return position


def answer_the_rest(page, after: int) -> None:
    while (trial := wait_answerable(page, after, timeout=60_000)) is not None:
        page.keyboard.press(KEYS[choice_for(trial["position"])])
        after = trial["position"]
    page.wait_for_url(re.compile(r"/done/$"))


def assert_each_answer_recorded_once(survey, page, key: str) -> list[Response]:
    stored = responses(survey)
    assert [r.trial.position for r in stored] == list(range(TRIALS))  # one each: no trial lost, none twice
    assert [r.choice for r in stored] == [choice_for(p) for p in range(TRIALS)]
    assert Participant.objects.get(survey=survey).is_complete
    assert queued(page, key) == []  # read on the done page: the queue was emptied before the runner left
    return stored


def test_answers_given_while_offline_for_10_s_arrive_once_and_the_participant_finishes(desktop, live_server, survey):
    page = desktop.new_page()
    consent(page, live_server.url, survey.slug)
    key = queue_key(page)
    after = answer(page, answer(page, -1))
    while len(responses(survey)) < 2:
        page.wait_for_timeout(50)

    dropped = wait_answerable(page, after)["position"]  # on screen, its images loaded, before the drop
    desktop.set_offline(True)
    offline_at = time.monotonic()
    page.keyboard.press(KEYS[choice_for(dropped)])  # answered with no network: queued, retried
    page.wait_for_selector("#feedback:has-text('Trying again')")
    page.keyboard.press(KEYS[choice_for(dropped)])  # pressed again while waiting: must not become a second answer
    page.wait_for_timeout(1000 * OFFLINE_S - 1000 * (time.monotonic() - offline_at))
    assert [entry["position"] for entry in queued(page, key)] == [dropped]
    assert len(responses(survey)) == 2  # nothing got through while offline
    desktop.set_offline(False)

    answer_the_rest(page, dropped)
    stored = assert_each_answer_recorded_once(survey, page, key)
    assert stored[dropped].client_timing["attempts"] > 1  # delivered by a retry after the network came back


def test_a_reply_lost_in_the_drop_is_resent_and_recorded_once(desktop, live_server, survey):
    page = desktop.new_page()
    network = {"offline": False, "lost": False, "replies": []}

    def record_then_lose_one_reply(route):
        """Answers pass through (their replies noted), except the first reply to trial 2, which the drop swallows."""
        if network["offline"]:
            route.continue_()  # the browser's own network is down: this attempt fails
            return
        reply = route.fetch()  # the request reaches the server
        if not network["lost"] and (route.request.post_data or "").startswith("position=2&"):
            network.update(lost=True, offline=True)
            desktop.set_offline(True)  # ...which records the answer, and the network drops before the reply is back
            route.abort("internetdisconnected")
            return
        network["replies"].append((route.request.post_data.split("&")[0], reply.status, reply.json()))
        route.fulfill(response=reply)

    page.route(re.compile(r"/answer/$"), record_then_lose_one_reply)
    consent(page, live_server.url, survey.slug)
    key = queue_key(page)
    after = answer(page, answer(page, -1))
    answer(page, after)
    page.wait_for_selector("#feedback:has-text('Trying again')")
    offline_at = time.monotonic()
    assert len(responses(survey)) == 3  # recorded, though the browser never heard so
    page.wait_for_timeout(1000 * OFFLINE_S - 1000 * (time.monotonic() - offline_at))
    assert [entry["position"] for entry in queued(page, key)] == [2] and len(responses(survey)) == 3
    network["offline"] = False
    desktop.set_offline(False)

    answer_the_rest(page, 2)
    stored = assert_each_answer_recorded_once(survey, page, key)
    assert stored[2].client_timing["attempts"] == 1  # the first delivery is the one kept; the resend changed nothing
    resent = [(status, data) for position, status, data in network["replies"] if position == "position=2"]
    assert len(resent) == 1
    status, data = resent[0]
    # Answered as recorded, not refused as a conflict: the protocol's promise that retries are safe.
    assert status == 200 and data["recorded"] is True and data["created"] is False

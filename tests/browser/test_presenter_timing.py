"""Frame-locked exposures in Chromium: planned frames are shown, and a blocked frame makes its trial invalid.

Headless Chromium draws at a steady 60 Hz here. A script in the page answers each trial 30 ms after
its mask is up (AUTO_ANSWER), so that nothing from outside runs in the page during an exposure;
the assertions read the trial logs stored with the answers, and the server's validity verdicts.
"""
import re

import pytest

from surveys import services
from surveys.models import Participant, Response
from surveys.protocol import Protocol
from surveys.timing import frames_for
from tests.browser.conftest import consent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPOSURES_MS = (125, 250, 500, 1000, 2000, 8000)
AUTO_ANSWER = """
document.addEventListener("evalsite:offset", () => setTimeout(() => {
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft", bubbles: true}));
}, 30));
"""
# Blocks the page's main thread for 120 ms, 100 ms into the exposure of the trial at BLOCKED_POSITION.
BLOCKED_POSITION = 2
BUSY_LOOP = """
document.addEventListener("evalsite:onset", (event) => {
  if (event.detail.position !== %d) return;
  setTimeout(() => { const start = performance.now(); while (performance.now() - start < 120) {} }, 100);
});
""" % BLOCKED_POSITION


@pytest.fixture
def timed_survey(make_pool):
    def _survey(exposures, per_exposure):
        pools = [make_pool("real", count=8, kind="real"), make_pool("generated", count=8, kind="generated")]
        protocol = Protocol(exposures_ms=exposures, trials_per_cell=per_exposure, mask_count=1)
        survey = services.survey_create(name="timed", pools=pools, kind="pairwise", protocol=protocol)
        return services.survey_open(survey=survey)
    return _survey


def run_through(context, base_url: str, survey, *scripts: str) -> list[Response]:
    page = context.new_page()
    for script in (AUTO_ANSWER, *scripts):
        page.add_init_script(script)
    consent(page, base_url, survey.slug)
    page.wait_for_url(re.compile(r"/done/$"), timeout=60_000)
    participant = Participant.objects.get(survey=survey)
    return list(Response.objects.filter(trial__participant=participant).order_by("trial__position"))


def test_every_exposure_lasts_its_planned_frames(desktop, live_server, timed_survey):
    survey = timed_survey(EXPOSURES_MS, 1)
    responses = run_through(desktop, live_server.url, survey)
    logs = [response.client_timing for response in responses]
    assert sorted(log["planned_ms"] for log in logs) == list(EXPOSURES_MS)
    for response, log in zip(responses, logs):
        frames = frames_for(log["planned_ms"], log["frame_ms"])
        assert log["frames_planned"] == frames
        assert log["frames_achieved"] == frames, log
        assert log["dropped_frames"] == 0 and log["max_interval_ms"] < 1.5 * log["frame_ms"], log
        assert response.valid, response.invalid_reasons
    assert abs(logs[0]["frame_ms"] - 1000 / 60) < 0.5  # the refresh period this machine's Chromium runs at


def test_a_blocked_main_thread_during_an_exposure_makes_that_trial_invalid(desktop, live_server, timed_survey):
    survey = timed_survey((300,), 4)  # short exposures: less time for anything else to take a frame
    responses = run_through(desktop, live_server.url, survey, BUSY_LOOP)
    blocked = responses[BLOCKED_POSITION]
    # rAF timestamps are frame starts: the 120 ms block shows as one interval of several frames.
    log = blocked.client_timing
    assert log["dropped_frames"] >= 1 and log["max_interval_ms"] > 4 * log["frame_ms"], log
    assert blocked.valid is False and any("dropped frame" in reason for reason in blocked.invalid_reasons)
    others = [response for response in responses if response is not blocked]
    assert all(response.valid and response.client_timing["dropped_frames"] == 0 for response in others), [
        (response.trial.position, response.invalid_reasons) for response in others]


def test_a_window_too_small_is_refused_until_enlarged(browser, live_server, timed_survey):
    survey = timed_survey((250,), 1)
    context = browser.new_context(viewport={"width": 320, "height": 220}, locale="en-US")
    page = context.new_page()
    consent(page, live_server.url, survey.slug)
    page.wait_for_selector("#runner[data-state=refused]")
    problems = page.locator("#check-problems li")
    assert problems.count() == 1 and "too small" in problems.inner_text()
    assert page.locator("#check-again").is_visible()
    assert participant_info(survey)["problems"] == ["window"]

    page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#check-again").click()
    page.wait_for_selector("#runner[data-state=answerable]", timeout=20_000)
    info = participant_info(survey)
    assert info["ok"] is True and info["checks"] == 2 and info["window"] == [1280, 800]
    assert abs(info["frame_ms"] - 1000 / 60) < 0.5 and info["frame_sd_ms"] < 2
    context.close()


def participant_info(survey) -> dict:
    return Participant.objects.get(survey=survey).client_info

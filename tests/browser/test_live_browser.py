"""The live dashboard in Chromium: answers recorded while it is open show up without a reload."""
import re

import pytest

from surveys import services
from surveys.selectors import participant_current_trial

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# live.js polls every 5 s (and backs off to 10 s after one failure): these leave room for a slow machine.
UPDATE_TIMEOUT_MS = 30_000
RECOVERY_TIMEOUT_MS = 45_000
RECORDED = "[data-field='answers.recorded']"


@pytest.fixture
def survey(make_pool, researcher):
    real = make_pool("live-real", count=4, kind="real")
    fake = make_pool("live-fake", count=4, kind="generated")
    survey = services.survey_create(name="live survey", pools=[real, fake], trials_per_participant=4,
                                    created_by=researcher)  # the researcher pages show only one's own surveys
    return services.survey_open(survey=survey)


def open_dashboard(context, base_url: str, researcher, survey):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/r/surveys/{survey.pk}/live/")  # not logged in: the login page, then back here
    page.fill("input[name=username]", researcher.username)
    page.fill("input[name=password]", "pw-for-tests-only")
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/r/surveys/{survey.pk}/live/$"))
    return page, errors


def record_first_answer(survey) -> None:
    participant = services.participant_start(survey=survey)
    trial = participant_current_trial(participant=participant)
    services.response_record(participant=participant, position=trial.position,
                             choice=services.trial_choices(trial)[0], reaction_time_ms=900.0)


def test_a_new_answer_appears_without_a_reload_and_the_chart_is_drawn(desktop, live_server, researcher, survey):
    page, errors = open_dashboard(desktop, live_server.url, researcher, survey)
    assert page.locator(RECORDED).text_content() == "0"
    assert page.locator("#live-time-empty").is_visible()
    page.wait_for_selector("[data-chart=answers_per_arm] .main-svg")  # the arms' bars, drawn from the page's data
    page.evaluate("window.stillTheSamePage = true")

    record_first_answer(survey)

    page.wait_for_function(f"document.querySelector(\"{RECORDED}\").textContent === '1'", timeout=UPDATE_TIMEOUT_MS)
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, not reloaded
    assert page.locator("[data-field='participants.started']").text_content() == "1"
    assert page.locator("#live-summary").text_content().startswith("1 answers recorded")
    # Plotly keeps the drawn traces on the element: the answers line now holds the one answer.
    page.wait_for_function("(document.getElementById('live-time-chart').data || [])[0]?.y.length === 1",
                           timeout=UPDATE_TIMEOUT_MS)
    page.wait_for_selector("#live-time-chart .main-svg .scatterlayer .trace", state="attached")
    assert page.locator("#live-time-empty").is_hidden()
    assert not errors


def test_a_lost_connection_is_shown_and_polling_recovers(desktop, live_server, researcher, survey):
    page, errors = open_dashboard(desktop, live_server.url, researcher, survey)
    note = page.locator("#live-connection")
    assert note.is_hidden()

    page.route(re.compile(r"/live\.json$"), lambda route: route.abort())
    note.wait_for(state="visible", timeout=UPDATE_TIMEOUT_MS)
    assert "retrying" in note.text_content()

    record_first_answer(survey)
    page.unroute(re.compile(r"/live\.json$"))
    page.wait_for_function(f"document.querySelector(\"{RECORDED}\").textContent === '1'", timeout=RECOVERY_TIMEOUT_MS)
    assert note.is_hidden()
    assert not errors


def test_the_dashboard_fits_a_phone(phone, live_server, researcher, survey):
    record_first_answer(survey)
    page, errors = open_dashboard(phone, live_server.url, researcher, survey)
    page.wait_for_selector("#live-time-chart .main-svg")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    chart_width = page.evaluate("document.querySelector('#live-time-chart .main-svg').getBoundingClientRect().width")
    assert chart_width <= page.viewport_size["width"]
    assert not errors

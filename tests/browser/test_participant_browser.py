"""A person takes the pairwise survey in Chromium by mouse, keyboard and touch; a researcher downloads the table.

The trials page is runner.js: one page for every trial, each shown once both images are decoded.
"""
import io
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import tables
from generation.models import PoolImage
from surveys import services
from surveys.models import Participant, Response
from tests.browser.conftest import consent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET_NAMES = ["zz-real-photos-secret", "zz-dcgan-epoch6000-secret"]
TRIALS = 6


@pytest.fixture
def survey(make_pool, researcher):
    real = make_pool(SECRET_NAMES[0], count=5, kind="real")
    fake = make_pool(SECRET_NAMES[1], count=5, kind="generated")
    survey = services.survey_create(name="internal-survey-name", pools=[real, fake], trials_per_participant=TRIALS,
                                    created_by=researcher)  # the researcher pages show only one's own surveys
    return services.survey_open(survey=survey)


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("EVALSITE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _record_traffic(page) -> list[tuple[str, dict, str]]:
    """Every response's URL and headers, and the body of the runner's JSON replies (trial specs, answers)."""
    seen: list[tuple[str, dict, str]] = []

    def record(response):
        json_reply = "application/json" in response.headers.get("content-type", "")
        seen.append((response.url, response.headers, response.text() if json_reply else ""))

    page.on("response", record)
    return seen


def _begin(page, base_url: str, survey) -> None:
    consent(page, base_url, survey.slug)
    page.wait_for_url(re.compile(r"/trial/$"))


def _wait_for_trial(page, number: int) -> None:
    page.wait_for_selector(f"text=({number}/{TRIALS})")
    page.wait_for_selector(".pair:not(.loading)")  # both images decoded and shown
    page.wait_for_selector("#runner[data-state=answerable]")


def _answers(participant) -> list[Response]:
    return list(Response.objects.filter(trial__participant=participant).order_by("trial__position"))


def test_survey_taken_by_mouse_and_keyboard_then_table_matches_the_clicks(desktop, live_server, survey, researcher):
    page = desktop.new_page()
    traffic = _record_traffic(page)
    _begin(page, live_server.url, survey)
    html_pages = []

    # Each trial answered a different way: click, key, double click, Enter on the focused image.
    expected = ["left", "right", "left", "left", "right", "right"]
    ways = ["click", "key", "dblclick", "enter", "click", "key"]
    for number, (side, way) in enumerate(zip(expected, ways), start=1):
        _wait_for_trial(page, number)
        html_pages.append(page.content())
        if number == 1:
            _screenshot(page, "trial-desktop")
            _assert_sides_look_alike(page)
        button = page.locator(f"button.choice[value={side}]")
        # Look before answering, as a person does: an instant answer would be left out of the table as
        # too fast to have looked (analysis.tables.MIN_REACTION_MS), and this test checks the table.
        page.wait_for_timeout(tables.MIN_REACTION_MS + 100)
        if way == "click":
            button.click()
        elif way == "dblclick":
            button.dblclick()
        elif way == "enter":
            button.focus()
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("ArrowLeft" if side == "left" else "ArrowRight")

    page.wait_for_url(re.compile(r"/done/$"))
    code = page.locator("#completion-code").inner_text().strip()
    html_pages.append(page.content())

    participant = Participant.objects.get(survey=survey)
    assert participant.is_complete and code == participant.completion_code
    answers = _answers(participant)
    assert [a.choice for a in answers] == expected  # the double click made one answer, not two
    assert all(a.reaction_time_ms is not None and a.reaction_time_ms > 0 for a in answers)
    assert [a.client_timing["input"] for a in answers] == ["mouse", "keyboard", "mouse", "keyboard", "mouse", "keyboard"]

    _assert_nothing_leaks(traffic, html_pages, page)

    # The researcher downloads the table; its counts are the clicks above.
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", researcher.username)
    page.fill("input[name=password]", "pw-for-tests-only")
    page.locator("form button[type=submit]").click()
    page.goto(f"{live_server.url}/r/surveys/{survey.pk}/results/")
    with page.expect_download() as download_info:
        page.locator("a[href*='export.csv']").click()
    table = pd.read_csv(io.StringIO(Path(download_info.value.path()).read_text()))
    _assert_table_matches(table, answers)


def _assert_sides_look_alike(page) -> None:
    """Nothing draws the eye to one side on arrival: no focus, same box, same border and outline."""
    assert page.evaluate("document.activeElement.classList.contains('choice')") is False
    styles = page.evaluate("""() => ['left', 'right'].map(side => {
        const style = getComputedStyle(document.querySelector(`button.choice[value=${side}]`));
        return [style.borderColor, style.borderWidth, style.outlineStyle, style.backgroundColor, style.width, style.height];
    })""")
    assert styles[0] == styles[1]


def _assert_table_matches(table: pd.DataFrame, answers: list[Response]) -> None:
    wins = {SECRET_NAMES[0]: 0, SECRET_NAMES[1]: 0}
    for answer in answers:
        wins[answer.trial.arm_on(answer.choice).label] += 1
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["arm_a"], row["arm_b"]) == tuple(SECRET_NAMES)
    assert (row["n"], row["wins_a"], row["wins_b"]) == (len(answers), wins[SECRET_NAMES[0]], wins[SECRET_NAMES[1]])


def _assert_nothing_leaks(traffic, html_pages, page) -> None:
    forbidden = set(SECRET_NAMES) | {"internal-survey-name"}
    for image in PoolImage.objects.all():
        forbidden |= {image.sha256, image.source_name, Path(image.source_name).stem}
    for url, headers, body in traffic:
        flat = url + " " + " ".join(f"{k}: {v}" for k, v in headers.items()) + " " + body
        assert not any(secret in flat for secret in forbidden), url
    assert any("/trials/" in url and body for url, _headers, body in traffic), "the runner's specs were checked"
    for html in html_pages:
        assert not any(secret in html for secret in forbidden)
    image_headers = [headers for url, headers, _body in traffic if "/img/" in url]
    assert image_headers, "the trial pages loaded their images"
    # Through the participant's own image URL, each one served (a refusal would be a 404 page, not a PNG).
    assert all(re.search(r"/s/[\w-]+/img/[\w-]{22}$", url) for url, _headers, _body in traffic if "/img/" in url)
    assert {h["content-type"] for h in image_headers} == {"image/png"}
    assert len({tuple(sorted(k for k in h if k not in ("content-length", "etag", "date"))) for h in image_headers}) == 1
    assert not any("last-modified" in h or "content-disposition" in h for h in image_headers)


def test_survey_taken_by_touch_on_a_phone_in_japanese(phone, live_server, survey):
    page = phone.new_page()
    _begin(page, live_server.url, survey)
    assert page.locator("html").get_attribute("lang") == "ja"
    for number in range(1, TRIALS + 1):
        _wait_for_trial(page, number)
        assert "どちらの画像がより本物らしく見えますか？" in page.content()
        left, right = (page.locator(f"button.choice[value={side}] img").bounding_box() for side in ("left", "right"))
        # Side by side and wholly on the screen: same row, nothing cut off at 390 px.
        assert abs(left["y"] - right["y"]) < 1 and left["x"] + left["width"] <= right["x"]
        assert right["x"] + right["width"] <= 390 and left["width"] > 120
        if number == 1:
            _screenshot(page, "trial-phone-ja")
        page.locator("button.choice[value=right]").tap()
    page.wait_for_url(re.compile(r"/done/$"))
    participant = Participant.objects.get(survey=survey)
    answers = _answers(participant)
    assert [a.choice for a in answers] == ["right"] * TRIALS
    assert {a.client_timing["input"] for a in answers} == {"touch"}


def test_reload_mid_survey_resumes_where_the_participant_was(desktop, live_server, survey):
    page = desktop.new_page()
    _begin(page, live_server.url, survey)
    for number in (1, 2):
        _wait_for_trial(page, number)
        page.keyboard.press("ArrowLeft")
    _wait_for_trial(page, 3)
    page.reload()
    _wait_for_trial(page, 3)
    page.goto(f"{live_server.url}/s/{survey.slug}/")
    _wait_for_trial(page, 3)
    assert Participant.objects.count() == 1
    assert len(_answers(Participant.objects.get())) == 2


def test_untimed_survey_works_without_javascript(browser, live_server, survey):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _begin(page, live_server.url, survey)
    for number in range(1, TRIALS + 1):
        page.wait_for_selector(f"text=({number}/{TRIALS})")
        page.locator(f"button.choice[value={'left' if number % 2 else 'right'}]").click()
    page.wait_for_url(re.compile(r"/done/$"))
    answers = _answers(Participant.objects.get(survey=survey))
    assert [a.choice for a in answers] == ["left", "right"] * (TRIALS // 2)
    assert all(a.client_timing == {} and a.valid for a in answers)  # no log without JavaScript; untimed stays valid
    context.close()


def test_timed_survey_without_javascript_says_it_needs_it(browser, live_server, make_pool):
    pools = [make_pool("timed-real", count=3, kind="real"), make_pool("timed-generated", count=3, kind="generated")]
    timed = services.survey_open(survey=services.survey_create(name="timed", pools=pools, preset="pix2pix",
                                                               trials_per_participant=2))
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _begin(page, live_server.url, timed)
    message = page.locator("noscript p")  # Playwright's text= selectors skip <noscript>
    assert message.is_visible() and "needs JavaScript" in message.inner_text()
    assert not page.locator("#runner").is_visible() and page.locator("img").count() == 0
    context.close()

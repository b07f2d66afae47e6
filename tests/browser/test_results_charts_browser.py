"""The results page's plotly charts in Chromium: drawn from the embedded figures, with plotly.js from the site."""
import re

import pytest
from django.utils import timezone

from surveys.models import Participant
from tests.analysis.conftest import answer_pairs, make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POINTS = ".scatterlayer .trace .points .point"


@pytest.fixture
def survey(researcher):
    survey, arms = make_survey("charted", [("Real", 0), ("DCGAN", 1), ("Multi-stage", 2)], created_by=researcher)
    done = Participant.objects.create(survey=survey, completed_at=timezone.now())
    answer_pairs(done, arms, [
        ("Real", "DCGAN", "Real"), ("DCGAN", "Real", "Real"), ("Real", "Multi-stage", "Multi-stage"),
        ("Multi-stage", "DCGAN", "Multi-stage"), ("DCGAN", "Multi-stage", "DCGAN"),
    ])
    return survey


def open_results(context, base_url: str, researcher, survey):
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base_url}/r/surveys/{survey.pk}/results/")  # not logged in: the login page, then back here
    page.fill("input[name=username]", researcher.username)
    page.fill("input[name=password]", "pw-for-tests-only")
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/r/surveys/{survey.pk}/results/$"))
    return page, problems, requests


def test_plotly_draws_every_chart_of_the_results_page(desktop, live_server, researcher, survey):
    page, problems, requests = open_results(desktop, live_server.url, researcher, survey)
    for name in ("selection-rates", "ranking", "responses-over-time"):
        page.wait_for_selector(f"#chart-{name} .js-plotly-plot .main-svg")
    assert page.locator(f"#chart-selection-rates {POINTS}").count() == 3  # one per arm
    assert page.locator(f"#chart-ranking {POINTS}").count() == 3
    assert page.locator("#chart-responses-over-time .scatterlayer .trace").count() == 2  # answers, completions
    ticks = page.locator("#chart-selection-rates .xtick text").all_text_contents()
    assert ticks == ["Real", "DCGAN", "Multi-stage"]
    assert page.locator("#chart-selection-rates [role=img]").get_attribute("aria-describedby") == \
        "chart-selection-rates-caption"
    assert "Real 66.7 %" in page.locator("#chart-selection-rates-caption").text_content()
    assert all(url.startswith(live_server.url) for url in requests), requests  # plotly.js from the site, no CDN
    assert not problems


def test_charts_fill_a_narrow_window(desktop, live_server, researcher, survey):
    page, problems, _ = open_results(desktop, live_server.url, researcher, survey)
    page.wait_for_selector("#chart-ranking .main-svg")
    page.set_viewport_size({"width": 480, "height": 800})
    page.wait_for_function(
        """() => {
            const plot = document.querySelector("#chart-ranking .js-plotly-plot");
            return plot && plot._fullLayout.width <= plot.parentElement.clientWidth;
        }"""
    )
    box = page.locator("#chart-ranking .main-svg").first.bounding_box()
    assert box["width"] <= 480
    assert not problems

"""The sample-size calculator: exact power against scipy's test, the smallest sufficient n, and the survey page."""
import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from analysis import planning, stats
from surveys import services


def _brute_force_power(n: int, rate: float, alpha: float) -> float:
    rejected = [k for k in range(n + 1) if binomtest(k, n, 0.5).pvalue <= alpha]
    return float(sum(binom.pmf(k, n, rate) for k in rejected))


def test_exact_power_equals_summing_scipys_rejections():
    rng = np.random.default_rng(5)
    for _ in range(25):
        n, rate = int(rng.integers(1, 300)), float(rng.uniform(0.05, 0.95))
        assert stats.binomial_test_power(n, rate) == pytest.approx(_brute_force_power(n, rate, 0.05), abs=1e-12)


@pytest.mark.parametrize("rate", [0.6, 0.7, 0.35])
def test_sample_size_is_the_fewest_answers_reaching_the_power(rate):
    need = stats.sample_size(rate, power=0.8)
    assert need.power >= 0.8 and need.power == pytest.approx(_brute_force_power(need.answers, rate, 0.05))
    assert all(stats.binomial_test_power(n, rate) < 0.8 for n in range(1, need.answers))
    low, high = stats.wilson(round(rate * need.answers), need.answers)
    assert need.expected_wilson_width == pytest.approx(high - low)


def test_sixty_percent_needs_about_two_hundred_answers():
    # The normal approximation gives about 194 for 60 % vs 50 % at 80 % power; the exact test needs a few more.
    assert 190 <= stats.sample_size(0.6).answers <= 210


def test_no_difference_cannot_be_planned():
    with pytest.raises(ValueError, match="other than 0.5"):
        stats.sample_size(0.5)


@pytest.mark.django_db
def test_participants_follow_from_the_answers_each_gives_to_a_comparison(make_pool):
    survey = services.survey_create(name="plan", pools=[make_pool(n) for n in ("a", "b", "c")], trials_per_participant=9)
    plan = planning.participants_needed(survey=survey, rate=0.6)
    assert plan.cells == 3 and plan.answers_per_participant == 3
    assert plan.participants == math.ceil(stats.sample_size(0.6).answers / 3)


@pytest.mark.django_db
def test_the_survey_page_shows_the_plan_and_refuses_a_rate_of_half(make_pool, researcher_client, researcher):
    survey = services.survey_create(name="plan", pools=[make_pool("a"), make_pool("b")], trials_per_participant=8,
                                    created_by=researcher)
    page = researcher_client.get(f"/r/surveys/{survey.pk}/?plan_rate=70&plan_power=90").content.decode()
    need = stats.sample_size(0.7, power=0.9)
    assert f"needs <strong>{need.answers}</strong> answers" in page
    assert f"at least <strong>{math.ceil(need.answers / 8)}</strong> participants" in page
    refused = researcher_client.get(f"/r/surveys/{survey.pk}/?plan_rate=50").content.decode()
    assert "No plan:" in refused

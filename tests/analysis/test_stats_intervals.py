"""Wilson intervals, one-sided exact tests and Holm's adjustment: against published figures,
against statsmodels and scipy on random data, and by simulated coverage."""
import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from analysis import stats


def test_simgan_visual_turing_test_from_its_raw_counts():
    # SimGAN: 517 of 1000 correct; the published p = 0.148 is the one-sided test of accuracy above chance.
    assert round(stats.binomial_one_sided_p(517, 1000), 4) == 0.1483
    low, high = stats.clopper_pearson(517, 1000)
    assert (round(low, 3), round(high, 3)) == (0.486, 0.548)


def _random_counts(seed: int, rounds: int = 200):
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        n = int(rng.integers(1, 2000))
        yield int(rng.integers(0, n + 1)), n


def test_wilson_and_clopper_pearson_equal_statsmodels_on_random_counts():
    for successes, n in _random_counts(11):
        for confidence in (0.9, 0.95, 0.99):
            expected = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
            assert stats.wilson(successes, n, confidence) == pytest.approx(expected, abs=1e-9)
            exact = proportion_confint(successes, n, alpha=1 - confidence, method="beta")
            assert stats.clopper_pearson(successes, n, confidence) == pytest.approx(exact, abs=1e-9)


def test_one_sided_p_equals_scipy_on_random_counts():
    for successes, n in _random_counts(12):
        expected = binomtest(successes, n, 0.5, alternative="greater").pvalue
        assert stats.binomial_one_sided_p(successes, n) == pytest.approx(expected, abs=1e-12)


def test_holm_equals_statsmodels_on_random_p_values():
    rng = np.random.default_rng(13)
    for size in (1, 2, 3, 7, 21, 50):
        p_values = rng.uniform(0, 0.2, size).tolist()
        expected = multipletests(p_values, method="holm")[1]
        assert stats.holm(p_values) == pytest.approx(list(expected), abs=1e-12)


def test_holm_leaves_missing_p_values_out_of_the_family():
    adjusted = stats.holm([0.01, math.nan, 0.04, 0.03])
    assert math.isnan(adjusted[1])
    assert adjusted[0] == pytest.approx(0.03) and adjusted[2] == pytest.approx(0.06) and adjusted[3] == pytest.approx(0.06)
    assert all(math.isnan(value) for value in stats.holm([math.nan, math.nan]))


def test_intervals_of_no_answers_are_missing():
    assert all(math.isnan(bound) for bound in stats.wilson(0, 0))
    assert math.isnan(stats.binomial_one_sided_p(0, 0))


def _exact_coverage(interval, trials: int, true_rate: float) -> float:
    """The probability that ``interval`` covers ``true_rate``, summed over every possible count."""
    counts = np.arange(trials + 1)
    covers = [low <= true_rate <= high for low, high in (interval(int(k), trials) for k in counts)]
    return float(binom.pmf(counts, trials, true_rate)[covers].sum())


@pytest.mark.parametrize("true_rate", [0.5, 0.6, 0.75])
def test_coverage_over_a_thousand_simulated_crowds(true_rate):
    # 1000 crowds of 240 trials each with a known selection rate. Wilson covers it in 95 +- 1.5 %
    # of crowds. The exact interval's coverage is at least 95 % by construction; 1000 crowds
    # estimate it only to +-0.7 % (one SD), so the simulated share is checked against its exact
    # coverage, which is itself checked to be at least 95 %.
    rng = np.random.default_rng(int(true_rate * 1000))
    trials, crowds = 240, 1000
    wins = rng.binomial(trials, true_rate, size=crowds)
    wilson_hits = sum(low <= true_rate <= high for low, high in (stats.wilson(int(k), trials) for k in wins))
    exact_hits = sum(low <= true_rate <= high for low, high in (stats.clopper_pearson(int(k), trials) for k in wins))
    assert 935 <= wilson_hits <= 965, wilson_hits
    exact_coverage = _exact_coverage(stats.clopper_pearson, trials, true_rate)
    assert exact_coverage >= 0.95
    noise = 3 * math.sqrt(exact_coverage * (1 - exact_coverage) / crowds)
    assert abs(exact_hits / crowds - exact_coverage) <= noise, (exact_hits, exact_coverage)


@pytest.mark.parametrize("trials", [200, 240, 500])
def test_the_exact_interval_never_covers_less_than_95_percent(trials):
    for true_rate in np.linspace(0.05, 0.95, 19):
        assert _exact_coverage(stats.clopper_pearson, trials, float(true_rate)) >= 0.95, (trials, true_rate)

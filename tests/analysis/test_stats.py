import math

import numpy as np
import pytest
from scipy import special
from scipy.stats import binomtest

from analysis import stats


def random_counts(seed: int, draws: int = 300, max_n: int = 3000):
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        n = int(rng.integers(1, max_n))
        yield int(rng.integers(0, n + 1)), n


# The two-sided p-value.


def test_two_sided_p_equals_scipy_binomtest_on_random_counts():
    for successes, n in random_counts(seed=20240501):
        expected = binomtest(successes, n, 0.5, alternative="two-sided").pvalue
        assert stats.binomial_two_sided_p(successes, n) == pytest.approx(expected, abs=1e-12, rel=1e-12)


def test_two_sided_p_under_other_null_probabilities_equals_scipy():
    rng = np.random.default_rng(7)
    for successes, n in random_counts(seed=8, draws=100, max_n=500):
        p = float(rng.uniform(0.05, 0.95))
        expected = binomtest(successes, n, p, alternative="two-sided").pvalue
        assert stats.binomial_two_sided_p(successes, n, p) == pytest.approx(expected, abs=1e-12, rel=1e-12)


def test_simgan_517_of_1000_p_value_two_sided_and_one_sided():
    # SimGAN reports p = 0.148 for 517/1000 correct: that is the one-sided test ("better than
    # chance"); the two-sided p-value evalsite reports for pairwise tables is twice that.
    one_sided = binomtest(517, 1000, 0.5, alternative="greater").pvalue
    assert round(one_sided, 3) == 0.148
    two_sided = stats.binomial_two_sided_p(517, 1000)
    assert two_sided == pytest.approx(0.2967, abs=1e-4)  # 0.29669...
    assert two_sided == pytest.approx(2 * one_sided, rel=1e-9)  # symmetric null: exactly twice


def test_simgan_unrefined_168_of_200_is_far_below_1e_8():
    assert binomtest(168, 200, 0.5, alternative="greater").pvalue <= 1e-8
    assert stats.binomial_two_sided_p(168, 200) <= 2e-8


def test_a_perfect_split_has_p_one():
    assert stats.binomial_two_sided_p(50, 100) == pytest.approx(1.0)


# The Clopper–Pearson interval.


def beta_quantile_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The textbook formula, written independently of stats.py (regularised incomplete beta inverse)."""
    alpha = 1 - confidence
    low = 0.0 if successes == 0 else special.betaincinv(successes, n - successes + 1, alpha / 2)
    high = 1.0 if successes == n else special.betaincinv(successes + 1, n - successes, 1 - alpha / 2)
    return low, high


@pytest.mark.parametrize("confidence", [0.95, 0.99, 0.9])
def test_clopper_pearson_equals_beta_quantile_formula_on_random_counts(confidence):
    for successes, n in random_counts(seed=11):
        low, high = stats.clopper_pearson(successes, n, confidence)
        expected_low, expected_high = beta_quantile_interval(successes, n, confidence)
        assert low == pytest.approx(expected_low, abs=1e-9)
        assert high == pytest.approx(expected_high, abs=1e-9)


def test_clopper_pearson_equals_scipy_exact_proportion_ci_on_random_counts():
    for successes, n in random_counts(seed=12):
        expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="exact")
        low, high = stats.clopper_pearson(successes, n)
        assert low == pytest.approx(expected.low, abs=1e-9)
        assert high == pytest.approx(expected.high, abs=1e-9)


def test_simgan_517_of_1000_interval():
    low, high = stats.clopper_pearson(517, 1000)
    assert (round(low, 3), round(high, 3)) == (0.486, 0.548)


def test_textbook_interval_5_of_10():
    # The classic table value for x = 5, n = 10 at 95 %: 0.1871 to 0.8129.
    low, high = stats.clopper_pearson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.1871, 0.8129)


@pytest.mark.parametrize("n", [1, 10, 66, 1000])
def test_zero_and_all_successes_pin_one_end(n):
    # At the edges the interval has a closed form: 1 - (alpha/2)^(1/n) for 0 of n.
    closed_form = 1 - 0.025 ** (1 / n)
    assert stats.clopper_pearson(0, n) == (0.0, pytest.approx(closed_form, abs=1e-12))
    assert stats.clopper_pearson(n, n) == (pytest.approx(1 - closed_form, abs=1e-12), 1.0)


def test_interval_contains_the_observed_rate():
    for successes, n in random_counts(seed=13, draws=100):
        low, high = stats.clopper_pearson(successes, n)
        assert 0 <= low <= successes / n <= high <= 1


# No data, bad data.


def test_n_zero_gives_nan_not_a_crash():
    assert math.isnan(stats.binomial_two_sided_p(0, 0))
    assert all(math.isnan(bound) for bound in stats.clopper_pearson(0, 0))
    result = stats.pairwise_result(0, 0)
    assert (result.n, result.wins_a, result.wins_b) == (0, 0, 0)
    assert all(math.isnan(v) for v in (result.rate_a, result.p_value, result.ci_low, result.ci_high))


@pytest.mark.parametrize("successes, n", [(-1, 10), (11, 10), (1, -1)])
def test_impossible_counts_are_refused(successes, n):
    with pytest.raises(ValueError):
        stats.clopper_pearson(successes, n)
    with pytest.raises(ValueError):
        stats.binomial_two_sided_p(successes, n)
    with pytest.raises(ValueError):
        stats.pairwise_result(successes, n)


# The combined result.


def test_pairwise_result_combines_the_exact_test_and_interval():
    result = stats.pairwise_result(517, 1000)
    assert (result.n, result.wins_a, result.wins_b) == (1000, 517, 483)
    assert result.rate_a == 0.517
    assert result.p_value == binomtest(517, 1000).pvalue
    assert (result.ci_low, result.ci_high) == stats.clopper_pearson(517, 1000)


def test_method_names_say_what_was_computed():
    assert "two-sided" in stats.TEST_NAME and "binomtest" in stats.TEST_NAME
    assert stats.interval_name(0.95) == stats.INTERVAL_NAME
    assert stats.interval_name(0.99).startswith("99 % Clopper–Pearson")

"""Psychometric threshold fits and HYPE scores in analysis.stats: simulated observers with known truth."""
import math

import numpy as np
import pytest

from analysis import stats

EXPOSURES = np.array([125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0])
TRUE_THRESHOLD, TRUE_SLOPE = 400.0, 3.0


def true_p(exposures, threshold=TRUE_THRESHOLD, slope=TRUE_SLOPE, floor=0.5):
    return floor + (1 - floor) / (1 + np.exp(-slope * (np.log10(exposures) - np.log10(threshold))))


def simulate_trials(seed, participants=50, per_exposure=5):
    """Rows (participant, exposure_ms, success): 7 exposures x 5 = 35 trials per participant."""
    rng = np.random.default_rng(seed)
    exposure = np.tile(np.repeat(EXPOSURES, per_exposure), participants)
    person = np.repeat(np.arange(participants), EXPOSURES.size * per_exposure)
    success = (rng.random(exposure.size) < true_p(exposure)).astype(float)
    return np.column_stack([person, exposure, success])


def counts(trials):
    exposures, level = np.unique(trials[:, 1], return_inverse=True)
    return exposures, np.bincount(level, weights=trials[:, 2]), np.bincount(level).astype(float)


def nll(threshold, slope, exposures, k, n, floor=0.5, axis=None):
    p = true_p(exposures, threshold, slope, floor)
    return -np.sum(k * np.log(p) + (n - k) * np.log(1 - p), axis=axis)


# The fit.


def test_fit_recovers_known_threshold_from_large_simulation():
    fit = stats.psychometric_fit(*counts(simulate_trials(seed=1, participants=400)))
    assert fit.converged
    assert fit.threshold_ms == pytest.approx(TRUE_THRESHOLD, rel=0.10)
    assert fit.slope == pytest.approx(TRUE_SLOPE, rel=0.25)
    assert fit.floor == 0.5
    assert "0.5" in fit.method and "log10" in fit.method


def test_fit_on_exact_expected_counts_returns_the_true_parameters():
    n = np.full(EXPOSURES.size, 1e6)
    fit = stats.psychometric_fit(EXPOSURES, true_p(EXPOSURES) * n, n)
    assert fit.threshold_ms == pytest.approx(TRUE_THRESHOLD, rel=1e-4)
    assert fit.slope == pytest.approx(TRUE_SLOPE, rel=1e-4)


def test_fit_with_other_floor_on_exact_counts():
    n = np.full(EXPOSURES.size, 1e6)
    fit = stats.psychometric_fit(EXPOSURES, true_p(EXPOSURES, 900.0, 2.0, floor=0.0) * n, n, floor=0.0)
    assert fit.threshold_ms == pytest.approx(900.0, rel=1e-4)
    assert fit.slope == pytest.approx(2.0, rel=1e-4)


def test_mle_equals_brute_force_grid_optimum_on_small_example():
    exposures = np.array([100.0, 300.0, 1000.0, 3000.0])
    k, n = np.array([11.0, 13.0, 17.0, 19.0]), np.full(4, 20.0)
    fit = stats.psychometric_fit(exposures, k, n)
    log_thr = np.linspace(1.0, 4.0, 601)
    slopes = np.linspace(0.1, 6.0, 591)
    grid = nll(10 ** log_thr[:, None, None], slopes[None, :, None], exposures, k, n, axis=-1)
    i, j = np.unravel_index(np.argmin(grid), grid.shape)
    assert math.log10(fit.threshold_ms) == pytest.approx(log_thr[i], abs=0.01)
    assert fit.slope == pytest.approx(slopes[j], abs=0.02)
    # The optimiser's optimum is at least as good as the best grid point.
    assert nll(fit.threshold_ms, fit.slope, exposures, k, n) <= grid.min() + 1e-9


def test_curve_at_threshold_is_halfway_between_floor_and_one():
    for floor in (0.5, 0.0, 0.25):
        fit = stats.PsychometricFit(threshold_ms=400.0, slope=3.0, floor=floor, converged=True)
        assert stats.psychometric_curve(fit, [400.0])[0] == pytest.approx((1 + floor) / 2, abs=1e-12)


def test_curve_is_increasing_and_bounded_by_floor_and_one():
    fit = stats.psychometric_fit(*counts(simulate_trials(seed=2)))
    t = np.geomspace(10, 100_000, 200)
    p = stats.psychometric_curve(fit, t)
    assert np.all(np.diff(p) > 0)
    assert np.all(p > 0.5) and np.all(p < 1)
    assert p[0] == pytest.approx(0.5, abs=0.01) and p[-1] == pytest.approx(1, abs=0.01)


def test_all_correct_raises():
    with pytest.raises(ValueError, match="every trial succeeded"):
        stats.psychometric_fit(EXPOSURES, np.full(7, 10), np.full(7, 10))


def test_all_at_or_below_floor_raises():
    with pytest.raises(ValueError, match="above the floor"):
        stats.psychometric_fit(EXPOSURES, np.array([5, 4, 5, 3, 5, 5, 2]), np.full(7, 10))


def test_single_exposure_and_bad_inputs_raise():
    with pytest.raises(ValueError, match="two or more distinct exposures"):
        stats.psychometric_fit([500.0, 500.0], [7, 8], [10, 10])
    with pytest.raises(ValueError, match="positive"):
        stats.psychometric_fit([0.0, 500.0], [7, 8], [10, 10])
    with pytest.raises(ValueError, match="successes"):
        stats.psychometric_fit([250.0, 500.0], [11, 8], [10, 10])
    with pytest.raises(ValueError, match="floor"):
        stats.psychometric_fit([250.0, 500.0], [7, 8], [10, 10], floor=1.0)


def test_step_like_data_is_flagged_not_converged():
    # Chance below 500 ms, perfect above: the likelihood keeps rising with the slope.
    fit = stats.psychometric_fit(EXPOSURES, np.array([5, 5, 5, 10, 10, 10, 10]), np.full(7, 10))
    assert not fit.converged
    assert 500 <= fit.threshold_ms <= 1000


# The participant bootstrap of the threshold.


def test_bootstrap_interval_contains_true_threshold():
    # Speed is measured by bench/, not asserted here.
    trials = simulate_trials(seed=3)
    fit, low, high = stats.psychometric_threshold_bootstrap(trials, rounds=1000, seed=0)
    assert fit.threshold_ms == pytest.approx(TRUE_THRESHOLD, rel=0.10)
    assert low < fit.threshold_ms < high
    assert low < TRUE_THRESHOLD < high
    assert high / low < 2  # 50 participants pin the threshold down, not just bracket it
    assert fit.failed_rounds == 0
    assert "1000 rounds" in fit.method


def test_bootstrap_is_deterministic_given_seed_and_depends_on_it():
    trials = simulate_trials(seed=4, participants=20)
    a = stats.psychometric_threshold_bootstrap(trials, rounds=200, seed=5)
    b = stats.psychometric_threshold_bootstrap(trials, rounds=200, seed=5)
    c = stats.psychometric_threshold_bootstrap(trials, rounds=200, seed=6)
    assert a == b
    assert (a[1], a[2]) != (c[1], c[2])


def test_bootstrap_counts_failed_rounds_and_uses_the_rest():
    # Two participants: one always right (a resample of only them is degenerate), one informative.
    rng = np.random.default_rng(0)
    exposure = np.tile(EXPOSURES, 20)
    perfect = np.column_stack([np.zeros(exposure.size), exposure, np.ones(exposure.size)])
    noisy = np.column_stack([np.ones(exposure.size), exposure, (rng.random(exposure.size) < true_p(exposure))])
    fit, low, high = stats.psychometric_threshold_bootstrap(np.vstack([perfect, noisy]), rounds=400, seed=1)
    assert 0 < fit.failed_rounds < 400
    # About a quarter of resamples draw the perfect participant twice.
    assert fit.failed_rounds == pytest.approx(100, abs=40)
    assert math.isfinite(low) and math.isfinite(high) and low <= high


def test_bootstrap_rejects_bad_success_column_and_degenerate_full_data():
    trials = simulate_trials(seed=5, participants=3)
    bad = trials.copy()
    bad[0, 2] = 2
    with pytest.raises(ValueError, match="0 or 1"):
        stats.psychometric_threshold_bootstrap(bad, rounds=10)
    trials[:, 2] = 1
    with pytest.raises(ValueError, match="every trial succeeded"):
        stats.psychometric_threshold_bootstrap(trials, rounds=10)


# HYPE_time.


def staircase_rows(participant, block, exposures):
    return [(participant, block, e) for e in exposures]


def hand_made_staircases():
    rows = []
    rows += staircase_rows(1, 0, [500, 400, 300, 400, 300, 400, 300, 400])  # mode 400 (4 times)
    rows += staircase_rows(1, 1, [500, 400, 500, 600, 500, 600])  # mode 500 (3 times)
    rows += staircase_rows(2, 0, [500, 600, 700, 600, 700, 800, 700])  # mode 700 (3 times)
    rows += staircase_rows(2, 1, [500, 400, 500, 400])  # tie 500/400 -> 450
    rows += staircase_rows(7, 3, [200, 100, 200, 100, 200])  # mode 200, one block only
    return np.array(rows, dtype=float)


def test_hype_time_exact_score_from_hand_made_staircases():
    result = stats.hype_time_score(hand_made_staircases(), rounds=500, seed=0)
    per_person = [(400 + 500) / 2, (700 + 450) / 2, 200]
    assert result.score_ms == pytest.approx(np.mean(per_person), abs=1e-12)
    assert result.participants == 3
    assert "mode" in result.method.lower() or "modal" in result.method.lower()


def test_hype_time_rows_in_any_order_give_same_score():
    trials = hand_made_staircases()
    shuffled = trials[np.random.default_rng(3).permutation(len(trials))]
    assert stats.hype_time_score(shuffled, rounds=10).score_ms == stats.hype_time_score(trials, rounds=10).score_ms


def test_hype_time_bootstrap_contains_score_and_is_deterministic():
    rng = np.random.default_rng(11)
    rows = []
    for person in range(30):
        for block in range(4):
            level = int(rng.integers(2, 8)) * 100
            rows += staircase_rows(person, block, [level] * 5 + list(rng.integers(1, 10, size=4) * 100))
    trials = np.array(rows, dtype=float)
    a = stats.hype_time_score(trials, rounds=1000, seed=2)
    b = stats.hype_time_score(trials, rounds=1000, seed=2)
    c = stats.hype_time_score(trials, rounds=1000, seed=3)
    assert a == b
    assert (a.low_ms, a.high_ms) != (c.low_ms, c.high_ms)
    assert a.low_ms < a.score_ms < a.high_ms
    assert a.participants == 30


def test_hype_time_single_participant_interval_collapses_and_bad_input_raises():
    result = stats.hype_time_score(np.array(staircase_rows(1, 0, [300, 300, 200])), rounds=50)
    assert result.score_ms == result.low_ms == result.high_ms == 300
    with pytest.raises(ValueError, match="positive"):
        stats.hype_time_score(np.array([[1, 0, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        stats.hype_time_score(np.zeros((3, 2)))


# HYPE∞.


def test_hype_infinity_is_error_rate():
    assert stats.hype_infinity_score(np.array([1, 1, 0, 1])) == pytest.approx(0.25)
    assert stats.hype_infinity_score(np.array([True, False])) == pytest.approx(0.5)
    assert math.isnan(stats.hype_infinity_score(np.array([])))
    with pytest.raises(ValueError):
        stats.hype_infinity_score(np.array([1, 2]))


def test_hype_infinity_bootstrap_contains_pooled_score():
    rng = np.random.default_rng(9)
    person = np.repeat(np.arange(40), 25)
    correct = (rng.random(person.size) < 0.7).astype(float)
    result = stats.hype_infinity_bootstrap(np.column_stack([person, correct]), rounds=1000, seed=0)
    assert result.score == pytest.approx(1 - correct.mean())
    assert result.low < result.score < result.high
    assert result.participants == 40
    assert result == stats.hype_infinity_bootstrap(np.column_stack([person, correct]), rounds=1000, seed=0)


def test_batched_bootstrap_fits_equal_one_optimiser_call_per_round():
    """The bootstrap fits every round at once (Fisher scoring); each round's threshold must equal what
    scipy's L-BFGS-B finds for that round alone, wherever the fit is well inside the tested range."""
    rng = np.random.default_rng(11)
    exposures = np.array([125.0, 250.0, 500.0, 1000.0, 2000.0])
    log_t = np.log10(exposures)
    true = 0.5 + 0.5 / (1 + (300 / exposures) ** 2)
    n = np.full((150, exposures.size), 20.0)
    k = rng.binomial(20, true, size=n.shape).astype(float)
    start = np.array([np.log10(300.0), 0.0])
    fittable = stats._fittable_rounds(k, n, 0.5)
    batch, batch_ok = stats._fit_counts_batch(log_t, k[fittable], n[fittable], 0.5, start)
    compared = 0
    for row, (counts, trials) in enumerate(zip(k[fittable], n[fittable])):
        single, single_ok = stats._fit_counts(log_t, counts, trials, 0.5, start)
        if single_ok and single[1] < np.log(30):  # not a near-step, whose slope the likelihood barely fixes
            assert batch_ok[row]
            assert 10 ** batch[row, 0] == pytest.approx(10 ** single[0], rel=1e-4)
            compared += 1
    assert compared > 120


def test_fittable_rounds_agree_with_the_per_round_checks():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 4, size=(500, 4)).astype(float)
    k = np.floor(n * rng.random(n.shape) * 1.3).clip(max=n)
    log_t = np.log10([100.0, 200.0, 400.0, 800.0])
    expected = [not (stats._degenerate_reason(log_t, kr, nr, 0.5) or stats._separated_levels(kr, nr, 0.5))
                for kr, nr in zip(k, n)]
    assert stats._fittable_rounds(k, n, 0.5).tolist() == expected

import numpy as np
import pytest
from scipy import optimize

from analysis import stats


def direct_mle(wins: np.ndarray) -> np.ndarray:
    """Maximise the Bradley–Terry log-likelihood directly (scipy BFGS), mean-0 log-strengths."""
    wins = np.asarray(wins, dtype=float)

    def negative_log_likelihood(s):
        diff = s[:, None] - s[None, :]
        return -np.sum(wins * -np.logaddexp(0.0, -diff))

    def gradient(s):
        diff = s[:, None] - s[None, :]
        p_loss = 1.0 / (1.0 + np.exp(diff))  # P(i loses to j)
        g = (wins * p_loss).sum(axis=1) - (wins.T * p_loss.T).sum(axis=1)
        return -g

    fit = optimize.minimize(negative_log_likelihood, np.zeros(len(wins)), jac=gradient, method="BFGS",
                            options={"gtol": 1e-12, "maxiter": 10_000})
    return fit.x - fit.x.mean()


def simulate(true: np.ndarray, participants: int, pairs_each: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = len(true)
    people = np.repeat(np.arange(participants), pairs_each)
    first = rng.integers(0, k, people.size)
    second = (first + rng.integers(1, k, people.size)) % k  # a different arm, uniformly
    p_first = 1.0 / (1.0 + np.exp(true[second] - true[first]))
    first_wins = rng.random(people.size) < p_first
    winner = np.where(first_wins, first, second)
    loser = np.where(first_wins, second, first)
    return np.column_stack([people, winner, loser])


HAND_WINS = np.array([
    [0, 7, 4, 6],
    [3, 0, 5, 2],
    [6, 5, 0, 1],
    [1, 8, 9, 0],
])


def test_mm_fit_equals_direct_maximum_likelihood():
    scores = stats.bradley_terry(HAND_WINS, prior=0)
    np.testing.assert_allclose(scores, direct_mle(HAND_WINS), atol=1e-6)
    assert scores.sum() == pytest.approx(0.0, abs=1e-12)


def test_prior_is_the_mle_of_the_smoothed_counts():
    wins = np.array([[0, 3, 2], [0, 0, 2], [0, 1, 0]])  # arm 0 never lost
    compared = (wins + wins.T) > 0
    np.testing.assert_allclose(stats.bradley_terry(wins), direct_mle(wins + 0.5 * compared), atol=1e-6)


def test_recovers_known_strengths_with_covering_bootstrap_intervals():
    true = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    trials = simulate(true, participants=200, pairs_each=20, seed=20240601)
    result = stats.bradley_terry_bootstrap(trials, 5, rounds=1000, seed=1)
    centred = true - true.mean()
    assert np.argsort(-result.scores).tolist() == [0, 1, 2, 3, 4]
    assert result.rank.tolist() == [0, 1, 2, 3, 4]
    # Each 95 % interval misses its true value one time in twenty, so all five hold only ~77 % of
    # the time: asking for at least four of five fails only when the intervals are really off.
    assert int(np.sum((result.low <= centred) & (centred <= result.high))) >= 4
    assert np.all(result.low < result.scores) and np.all(result.scores < result.high)
    assert np.all(result.high - result.low < 0.5)  # informative, not vacuous
    assert result.rounds == 1000
    assert result.method == stats.BRADLEY_TERRY_NAME


def test_reference_arm_is_fixed_at_zero():
    wins = HAND_WINS
    centred = stats.bradley_terry(wins)
    relative = stats.bradley_terry(wins, reference=2)
    assert relative[2] == 0.0
    np.testing.assert_allclose(relative, centred - centred[2], atol=1e-12)

    trials = simulate(np.array([0.3, 0.0, -0.3]), participants=50, pairs_each=10, seed=3)
    result = stats.bradley_terry_bootstrap(trials, 3, rounds=200, seed=0, reference=1)
    assert result.scores[1] == 0.0 and result.low[1] == 0.0 and result.high[1] == 0.0
    unreferenced = stats.bradley_terry_bootstrap(trials, 3, rounds=200, seed=0)
    np.testing.assert_allclose(result.scores, unreferenced.scores - unreferenced.scores[1], atol=1e-12)
    with pytest.raises(ValueError, match="reference"):
        stats.bradley_terry(wins, reference=4)


def test_arm_that_never_lost_gets_a_finite_top_score_with_the_prior():
    wins = np.array([
        [0, 4, 3],
        [0, 0, 5],
        [0, 2, 0],
    ])
    scores = stats.bradley_terry(wins)
    assert np.all(np.isfinite(scores))
    assert scores[0] > scores[1] and scores[0] > scores[2]
    with pytest.raises(ValueError, match="diverges"):
        stats.bradley_terry(wins, prior=0)


def test_disconnected_design_raises():
    wins = np.array([
        [0, 3, 0, 0],
        [2, 0, 0, 0],
        [0, 0, 0, 4],
        [0, 0, 1, 0],
    ])
    with pytest.raises(ValueError, match="unconnected"):
        stats.bradley_terry(wins)
    trials = np.array([[0, 0, 1], [1, 1, 0], [2, 2, 3], [3, 3, 2]])
    with pytest.raises(ValueError, match="unconnected"):
        stats.bradley_terry_bootstrap(trials, 4, rounds=10)
    with pytest.raises(ValueError, match="unconnected"):  # an arm never shown at all
        stats.bradley_terry_bootstrap(trials[:2], 3, rounds=10)


def test_same_seed_gives_same_intervals():
    trials = simulate(np.array([0.4, 0.0, -0.4, 0.2]), participants=80, pairs_each=12, seed=11)
    a = stats.bradley_terry_bootstrap(trials, 4, rounds=300, seed=5)
    b = stats.bradley_terry_bootstrap(trials, 4, rounds=300, seed=5)
    c = stats.bradley_terry_bootstrap(trials, 4, rounds=300, seed=6)
    np.testing.assert_array_equal(a.low, b.low)
    np.testing.assert_array_equal(a.high, b.high)
    assert not np.array_equal(a.low, c.low)
    np.testing.assert_array_equal(a.scores, c.scores)


def test_participant_ids_need_not_be_contiguous():
    trials = simulate(np.array([0.4, 0.0, -0.4]), participants=40, pairs_each=10, seed=2)
    relabelled = trials.copy()
    relabelled[:, 0] = relabelled[:, 0] * 17 + 1000
    a = stats.bradley_terry_bootstrap(trials, 3, rounds=100, seed=0)
    b = stats.bradley_terry_bootstrap(relabelled, 3, rounds=100, seed=0)
    np.testing.assert_array_equal(a.low, b.low)
    np.testing.assert_array_equal(a.high, b.high)


def test_bad_input_raises():
    with pytest.raises(ValueError):
        stats.bradley_terry(np.array([[0, 1, 2], [1, 0, 3]]))
    with pytest.raises(ValueError):
        stats.bradley_terry(np.array([[1, 1], [1, 0]]))
    with pytest.raises(ValueError):
        stats.bradley_terry_bootstrap(np.array([[0, 1, 1]]), 2)
    with pytest.raises(ValueError):
        stats.bradley_terry_bootstrap(np.array([[0, 0, 2]]), 2)

"""The one place evalsite computes statistics. Pure numpy/scipy: no Django here.

Every number a researcher reads (tables, charts, exports) comes from these functions, and each
function names its method in a constant so an export can say exactly how it was computed.
"""
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_CONFIDENCE = 0.95
TEST_NAME = "exact two-sided binomial test against 0.5 (scipy.stats.binomtest)"
ONE_SIDED_TEST_NAME = "exact one-sided binomial test, H1: rate above 0.5 (scipy.stats.binomtest, alternative='greater')"
INTERVAL_NAME = "95 % Clopper–Pearson (exact) interval"
WILSON_NAME = "95 % Wilson score interval"
HOLM_NAME = "Holm step-down adjustment across the survey's pairs"


def interval_name(confidence: float = DEFAULT_CONFIDENCE) -> str:
    """The human-readable name of the interval at ``confidence`` (INTERVAL_NAME at 95 %)."""
    return f"{confidence * 100:g} % Clopper–Pearson (exact) interval"


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")


def binomial_two_sided_p(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial p-value of ``successes`` in ``n`` under success probability ``p``.

    NaN when n = 0: no answers carry no evidence either way.
    """
    _check_counts(successes, n)
    if n == 0:
        return math.nan
    return float(scipy_stats.binomtest(int(successes), int(n), p, alternative="two-sided").pvalue)


def clopper_pearson(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion, from beta quantiles.

    The bounds are pinned to 0 and 1 at the edges, where the beta quantile is undefined.
    (NaN, NaN) when n = 0.
    """
    _check_counts(successes, n)
    if n == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    low = 0.0 if successes == 0 else float(scipy_stats.beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(scipy_stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


def binomial_one_sided_p(successes: int, n: int, p: float = 0.5) -> float:
    """Exact one-sided p-value of ``successes`` in ``n`` against H1: success probability above ``p``.

    This is the test behind "accuracy above chance" (SimGAN's 517 of 1000: p = 0.148). NaN when n = 0.
    """
    _check_counts(successes, n)
    if n == 0:
        return math.nan
    return float(scipy_stats.binomtest(int(successes), int(n), p, alternative="greater").pvalue)


def wilson(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (no continuity correction); (NaN, NaN) when n = 0.

    Its coverage stays near the nominal level where the exact interval is conservative.
    """
    _check_counts(successes, n)
    if n == 0:
        return math.nan, math.nan
    z = float(scipy_stats.norm.ppf(1 - (1 - confidence) / 2))
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given; NaN entries (no answers) stay NaN and do not count.

    The family is the non-missing p-values: each sorted p_(i) is multiplied by (m - i), the running
    maximum keeps the adjusted values monotone, and nothing exceeds 1.
    """
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, math.nan)
    present = np.flatnonzero(~np.isnan(values))
    if present.size == 0:
        return adjusted.tolist()
    order = present[np.argsort(values[present], kind="stable")]
    m = order.size
    scaled = values[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted.tolist()


@dataclass(frozen=True)
class PairwiseResult:
    """Arm A against arm B: how often A was chosen, and whether that differs from chance."""

    n: int
    wins_a: int
    wins_b: int
    rate_a: float
    p_value: float
    ci_low: float
    ci_high: float


def pairwise_result(wins_a: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> PairwiseResult:
    """Selection rate of arm A over ``n`` A-vs-B trials, with the exact test and interval."""
    _check_counts(wins_a, n)
    ci_low, ci_high = clopper_pearson(wins_a, n, confidence)
    return PairwiseResult(
        n=int(n),
        wins_a=int(wins_a),
        wins_b=int(n - wins_a),
        rate_a=wins_a / n if n else math.nan,
        p_value=binomial_two_sided_p(wins_a, n),
        ci_low=ci_low,
        ci_high=ci_high,
    )


# Bradley–Terry ranking of several arms from pairwise choices, with participant-bootstrap intervals.

BRADLEY_TERRY_PRIOR = 0.5
BRADLEY_TERRY_ROUNDS = 1000
BRADLEY_TERRY_NAME = (
    "Bradley–Terry (MM algorithm, Hunter 2004; 0.5 pseudo-win each way on every compared pair) "
    "with participant-bootstrap 95 % percentile intervals, 1000 rounds"
)


def bradley_terry_name(
    confidence: float = DEFAULT_CONFIDENCE, rounds: int = BRADLEY_TERRY_ROUNDS, prior: float = BRADLEY_TERRY_PRIOR
) -> str:
    """The human-readable name of the ranking method (BRADLEY_TERRY_NAME at the defaults)."""
    smoothing = f"{prior:g} pseudo-win each way on every compared pair" if prior > 0 else "no prior"
    return (
        f"Bradley–Terry (MM algorithm, Hunter 2004; {smoothing}) "
        f"with participant-bootstrap {confidence * 100:g} % percentile intervals, {rounds} rounds"
    )


def _check_wins(wins: np.ndarray) -> np.ndarray:
    wins = np.asarray(wins, dtype=float)
    if wins.ndim != 2 or wins.shape[0] != wins.shape[1] or wins.shape[0] < 2:
        raise ValueError(f"wins must be a square matrix over at least 2 arms, got shape {wins.shape}")
    if not np.all(np.isfinite(wins)) or np.any(wins < 0):
        raise ValueError("wins must hold finite, non-negative counts")
    if np.any(np.diag(wins) != 0):
        raise ValueError("wins[i, i] must be 0: an arm is never compared with itself")
    return wins


def _smoothed(wins: np.ndarray, prior: float, compared: np.ndarray) -> np.ndarray:
    """``wins`` plus ``prior`` pseudo-wins each way on every pair in ``compared`` (a symmetric boolean matrix)."""
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}")
    return wins + prior * compared if prior > 0 else wins


def _check_connected(wins: np.ndarray, prior: float) -> None:
    """Raise unless the Bradley–Terry maximum-likelihood fit of ``wins`` (already smoothed) exists.

    The arms must form one connected comparison graph. Without a prior the MLE is finite only when the
    "beat" graph is strongly connected: every arm can be reached from every other through wins.
    """
    from scipy.sparse import csgraph

    k = wins.shape[0]
    compared = (wins + wins.T) > 0
    n_parts, labels = csgraph.connected_components(compared, directed=False)
    if n_parts > 1:
        groups = [np.flatnonzero(labels == part).tolist() for part in range(n_parts)]
        raise ValueError(
            f"Bradley–Terry needs every arm linked to the others by comparisons; the {k} arms fall into "
            f"{n_parts} unconnected groups {groups}, so their strengths cannot be put on one scale"
        )
    if prior == 0:
        n_strong, _ = csgraph.connected_components(wins > 0, directed=True, connection="strong")
        if n_strong > 1:
            raise ValueError(
                "with prior=0 the Bradley–Terry maximum-likelihood estimate diverges: some arm (or group of "
                "arms) never lost, or never won, against the rest; use a prior > 0"
            )


def _mm_fit(wins: np.ndarray, log_start: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Hunter's (2004) MM iterations for a stack of win matrices ``(..., K, K)``; mean-0 log-strengths ``(..., K)``.

    Each step sets gamma_i = W_i / sum_j n_ij / (gamma_i + gamma_j) for all arms at once (W_i: wins of i,
    n_ij: comparisons of i and j), which never lowers the likelihood. Stops when no log-strength moves by
    ``tol`` or more; the inputs must have a finite maximum (see _check_connected).
    """
    log_wins = np.log(wins.sum(axis=-1))
    compared = wins + np.swapaxes(wins, -1, -2)
    log_gamma = log_start - log_start.mean(axis=-1, keepdims=True)
    for _ in range(max_iter):
        gamma = np.exp(log_gamma)
        denominator = (compared / (gamma[..., :, None] + gamma[..., None, :])).sum(axis=-1)
        updated = log_wins - np.log(denominator)
        updated -= updated.mean(axis=-1, keepdims=True)
        change = np.max(np.abs(updated - log_gamma))
        log_gamma = updated
        if change < tol:
            return log_gamma
    raise RuntimeError(f"Bradley–Terry MM iterations did not converge to tol={tol} in {max_iter} steps")


def _relative_to(log_strengths: np.ndarray, reference: int | None, k: int) -> np.ndarray:
    if reference is None:
        return log_strengths
    if not 0 <= reference < k:
        raise ValueError(f"reference must be an arm index in 0..{k - 1}, got {reference}")
    return log_strengths - log_strengths[..., reference : reference + 1]


def bradley_terry(
    wins: np.ndarray,
    *,
    max_iter: int = 10_000,
    tol: float = 1e-10,
    prior: float = BRADLEY_TERRY_PRIOR,
    reference: int | None = None,
) -> np.ndarray:
    """Bradley–Terry log-strengths of K arms from ``wins[i, j]``, the times arm i was preferred over arm j.

    P(i preferred over j) = exp(s_i) / (exp(s_i) + exp(s_j)). Fitted by maximum likelihood with Hunter's MM
    algorithm. The scores sum to 0, or, with ``reference``, that arm's score is 0 and the others read
    relative to it (e.g. relative to the real-image pool).

    An arm that never won or never lost has no finite maximum-likelihood score, so ``prior`` pseudo-wins
    (default 0.5) are added each way to every pair of arms that met at least once: a small symmetric
    shrinkage toward equal strength. ``prior=0`` fits the plain MLE and raises ValueError where it diverges.
    Raises ValueError when the arms do not form one connected comparison graph.
    """
    wins = _check_wins(wins)
    k = wins.shape[0]
    _relative_to(np.zeros(k), reference, k)  # validate before fitting
    smoothed = _smoothed(wins, prior, (wins + wins.T) > 0)
    _check_connected(smoothed, prior)
    scores = _mm_fit(smoothed, np.zeros(k), max_iter, tol)
    return _relative_to(scores, reference, k)


@dataclass(frozen=True, eq=False)
class BradleyTerryResult:
    """Bradley–Terry scores of K arms with participant-bootstrap percentile intervals (read-only arrays)."""

    scores: np.ndarray  # (K,) log-strengths from all the data: mean 0, or 0 at the reference arm
    low: np.ndarray  # (K,) lower percentile bound
    high: np.ndarray  # (K,) upper percentile bound
    rank: np.ndarray  # (K,) 0 = strongest arm by ``scores``
    rounds: int
    confidence: float = DEFAULT_CONFIDENCE
    reference: int | None = None
    method: str = BRADLEY_TERRY_NAME


def _check_trials(trials: np.ndarray, n_arms: int) -> np.ndarray:
    trials = np.asarray(trials)
    if trials.ndim != 2 or trials.shape[1] != 3 or trials.shape[0] == 0:
        raise ValueError(f"trials must have shape (N, 3) with N >= 1, got {trials.shape}")
    if not np.issubdtype(trials.dtype, np.integer):
        raise ValueError("trials must hold integers: (participant, winner arm, loser arm)")
    if n_arms < 2:
        raise ValueError(f"need at least 2 arms, got {n_arms}")
    arms = trials[:, 1:]
    if np.any(arms < 0) or np.any(arms >= n_arms):
        raise ValueError(f"winner and loser arms must lie in 0..{n_arms - 1}")
    if np.any(trials[:, 1] == trials[:, 2]):
        raise ValueError("a trial's winner and loser must be different arms")
    return trials.astype(np.int64)


def bradley_terry_bootstrap(
    trials: np.ndarray,
    n_arms: int,
    *,
    rounds: int = BRADLEY_TERRY_ROUNDS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    reference: int | None = None,
    prior: float = BRADLEY_TERRY_PRIOR,
    max_iter: int = 10_000,
    tol: float = 1e-10,
) -> BradleyTerryResult:
    """Bradley–Terry scores with percentile intervals from resampling participants with replacement.

    ``trials`` rows are (participant, winner arm, loser arm); participant ids need not be contiguous.
    Resampling whole participants keeps each person's correlated answers together. Each round refits
    the model (warm-started from the full-data fit, all rounds at once); the ``prior`` pseudo-wins are
    fixed pseudo-data on the pairs compared in the full data, not resampled, so every round stays fittable.
    With ``prior=0`` a round whose resample has no finite MLE raises ValueError.
    """
    trials = _check_trials(trials, n_arms)
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    _relative_to(np.zeros(n_arms), reference, n_arms)

    participants, person = np.unique(trials[:, 0], return_inverse=True)
    n_people = participants.size
    per_person = np.zeros((n_people, n_arms, n_arms))
    np.add.at(per_person, (person, trials[:, 1], trials[:, 2]), 1.0)
    wins = per_person.sum(axis=0)
    compared = (wins + wins.T) > 0
    smoothed = _smoothed(wins, prior, compared)
    _check_connected(smoothed, prior)
    full = _mm_fit(smoothed, np.zeros(n_arms), max_iter, tol)

    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_people, np.full(n_people, 1.0 / n_people), size=rounds).astype(float)
    resampled = _smoothed(np.tensordot(draws, per_person, axes=1), prior, compared)  # (rounds, K, K)
    if prior == 0:
        for round_wins in resampled:
            _check_connected(round_wins, prior)
    boot = _mm_fit(resampled, np.broadcast_to(full, (rounds, n_arms)), max_iter, tol)

    scores = _relative_to(full, reference, n_arms)
    boot = _relative_to(boot, reference, n_arms)
    alpha = 1 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    rank = np.empty(n_arms, dtype=np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(n_arms)
    for array in (scores, low, high, rank):
        array.setflags(write=False)
    return BradleyTerryResult(
        scores=scores,
        low=low,
        high=high,
        rank=rank,
        rounds=int(rounds),
        confidence=confidence,
        reference=reference,
        method=bradley_terry_name(confidence, rounds, prior),
    )

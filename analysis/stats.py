"""The one place evalsite computes statistics. Pure numpy/scipy: no Django here.

Every number a researcher reads (tables, charts, exports) comes from these functions, and each
function names its method in a constant so an export can say exactly how it was computed.
"""
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=4)
def participant_bootstrap_weights(n_people: int, rounds: int, seed: int) -> np.ndarray:
    """How many times each participant is drawn in each bootstrap round: (rounds, n_people), read-only.

    Every bootstrap here resamples whole participants with replacement from the same seed, so one
    survey's Bradley–Terry, threshold and HYPE intervals share one set of draws; the cache keeps the
    few most recent sets (8 bytes per participant and round) instead of drawing them again per arm.
    """
    weights = np.random.default_rng(seed).multinomial(n_people, np.full(n_people, 1.0 / n_people), size=rounds)
    weights = weights.astype(float)
    weights.setflags(write=False)
    return weights


def _per_person_sums(person: np.ndarray, cell: np.ndarray, n_people: int, n_cells: int,
                     weights: np.ndarray | None = None) -> np.ndarray:
    """(n_people, n_cells) sums of ``weights`` (or counts) by participant and cell, by one bincount."""
    flat = np.bincount(person * n_cells + cell, weights=weights, minlength=n_people * n_cells)
    return flat.astype(float).reshape(n_people, n_cells)


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
    per_person = _per_person_sums(person, trials[:, 1] * n_arms + trials[:, 2], n_people, n_arms * n_arms)
    per_person = per_person.reshape(n_people, n_arms, n_arms)
    wins = per_person.sum(axis=0)
    compared = (wins + wins.T) > 0
    smoothed = _smoothed(wins, prior, compared)
    _check_connected(smoothed, prior)
    full = _mm_fit(smoothed, np.zeros(n_arms), max_iter, tol)

    draws = participant_bootstrap_weights(n_people, rounds, seed)
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


# Psychometric curve (CRN timed study): proportion correct (or selected) against exposure time.

PSYCHOMETRIC_FLOOR = 0.5
PSYCHOMETRIC_ROUNDS = 1000
PSYCHOMETRIC_NAME = (
    "two-parameter logistic in log10(exposure) with fixed lower asymptote (floor) and upper asymptote 1, "
    "binomial maximum likelihood (L-BFGS-B on log10 threshold and log slope)"
)
# Bounds on the optimiser keep separated (step-like) or flat data from running off to infinity; a fit
# that ends on a bound is reported as not converged rather than silently trusted.
_LOG_SLOPE_BOUNDS = (math.log(0.05), math.log(100.0))
_THRESHOLD_DECADES = 2.0  # how far beyond the tested exposures the threshold may wander
_P_CLIP = 1e-12


def psychometric_name(floor: float = PSYCHOMETRIC_FLOOR) -> str:
    """The human-readable name of the psychometric fit at lower asymptote ``floor``."""
    return PSYCHOMETRIC_NAME.replace("(floor)", f"{floor:g}")


def psychometric_bootstrap_name(
    floor: float = PSYCHOMETRIC_FLOOR, confidence: float = DEFAULT_CONFIDENCE, rounds: int = PSYCHOMETRIC_ROUNDS
) -> str:
    """The name of the threshold interval: the fit plus its participant bootstrap."""
    return (
        f"{psychometric_name(floor)}; threshold interval: participant-bootstrap {confidence * 100:g} % "
        f"percentile interval, {rounds} rounds refitted by Fisher scoring (rounds whose refit fails are dropped)"
    )


@dataclass(frozen=True)
class PsychometricFit:
    """p(t) = floor + (1 - floor) * sigmoid(slope * (log10 t - log10 threshold_ms))."""

    threshold_ms: float  # exposure where p is halfway between floor and 1
    slope: float  # per decade of exposure; > 0
    floor: float
    converged: bool
    method: str = PSYCHOMETRIC_NAME
    failed_rounds: int = 0  # bootstrap rounds whose refit failed (0 for a plain fit)


def _check_floor(floor: float) -> None:
    if not 0 <= floor < 1:
        raise ValueError(f"floor must lie in [0, 1), got {floor}")


def _psychometric_p(params: np.ndarray, log_t: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """p(t) and the sigmoid's derivative g(1 - g) at params = (log10 threshold, log slope)."""
    slope = math.exp(params[1])
    g = 1.0 / (1.0 + np.exp(-slope * (log_t - params[0])))
    return floor + (1 - floor) * g, g * (1 - g)


def _psychometric_nll(
    params: np.ndarray, log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float
) -> tuple[float, np.ndarray]:
    """Binomial negative log-likelihood and its gradient in (log10 threshold, log slope)."""
    p, dg = _psychometric_p(params, log_t, floor)
    p = np.clip(p, _P_CLIP, 1 - _P_CLIP)
    nll = -float(np.sum(k * np.log(p) + (n - k) * np.log1p(-p)))
    slope = math.exp(params[1])
    dnll_dz = -(k / p - (n - k) / (1 - p)) * (1 - floor) * dg
    grad = np.array([float(np.sum(dnll_dz)) * -slope, float(np.sum(dnll_dz * (log_t - params[0]))) * slope])
    return nll, grad


def _fit_counts(
    log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float, start: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Maximum-likelihood (log10 threshold, log slope) from binomial counts; (params, converged)."""
    from scipy.optimize import minimize

    bounds = [
        (float(log_t.min()) - _THRESHOLD_DECADES, float(log_t.max()) + _THRESHOLD_DECADES),
        _LOG_SLOPE_BOUNDS,
    ]
    result = minimize(
        _psychometric_nll, start, args=(log_t, k, n, floor), jac=True, method="L-BFGS-B", bounds=bounds
    )
    params = result.x
    on_bound = any(min(abs(value - lo), abs(value - hi)) < 1e-6 for value, (lo, hi) in zip(params, bounds))
    return params, bool(result.success) and bool(np.all(np.isfinite(params))) and not on_bound


_BATCH_MAX_STEPS = 200
_BATCH_GRAD_TOL = 1e-7  # per trial: the likelihood's gradient this flat means the optimum is reached
_BATCH_LINE_SEARCH = 0.5 ** np.arange(12)


def _batch_nll(a: np.ndarray, b: np.ndarray, log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float):
    """Per-row negative log-likelihood, p and the sigmoid derivative for rows of (log10 threshold a, log slope b)."""
    slope = np.exp(b)[:, None]
    z = slope * (log_t[None, :] - a[:, None])
    g = 1.0 / (1.0 + np.exp(-z))
    p = np.clip(floor + (1 - floor) * g, _P_CLIP, 1 - _P_CLIP)
    nll = -np.sum(k * np.log(p) + (n - k) * np.log1p(-p), axis=1)
    return nll, p, g * (1 - g), slope, z


def _fit_counts_batch(
    log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood (log10 threshold, log slope) for every row of counts ``k``, ``n`` (rows x levels) at once.

    Fisher scoring with a backtracking line search, all rows together: a bootstrap's thousand small
    fits take milliseconds instead of a thousand optimiser calls. Same bounds and the same rule as
    _fit_counts: a fit that ends on a bound, or does not settle, is not converged.
    """
    rows = k.shape[0]
    a, b = np.full(rows, start[0], dtype=float), np.full(rows, start[1], dtype=float)
    a_bounds = (float(log_t.min()) - _THRESHOLD_DECADES, float(log_t.max()) + _THRESHOLD_DECADES)
    settled = np.zeros(rows, dtype=bool)
    trials = np.maximum(n.sum(axis=1), 1.0)
    previous = np.full(rows, np.inf)
    for _ in range(_BATCH_MAX_STEPS):
        nll, p, dg, slope, z = _batch_nll(a, b, log_t, k, n, floor)
        stalled = previous - nll <= 1e-12 * np.maximum(1.0, nll)
        previous = nll
        dp_dz = (1 - floor) * dg
        residual = -(k / p - (n - k) / (1 - p)) * dp_dz
        dz = (-slope * np.ones_like(z), z)  # dz/da, dz/db
        grad = np.stack([np.sum(residual * dz[0], axis=1), np.sum(residual * dz[1], axis=1)], axis=1)
        # A slope pressed against its cap (a near-step) still locates the threshold: project that pull away.
        pulled_up = (b >= _LOG_SLOPE_BOUNDS[1] - 1e-9) & (grad[:, 1] < 0)
        pulled_down = (b <= _LOG_SLOPE_BOUNDS[0] + 1e-9) & (grad[:, 1] > 0)
        grad[pulled_up | pulled_down, 1] = 0.0
        settled |= np.abs(grad).max(axis=1) < _BATCH_GRAD_TOL * trials
        # Near a step the likelihood is flat along the slope and the gradient never gets small, but the
        # line search stops finding any lower likelihood: the fit is as good as floating point allows.
        settled |= stalled
        if settled.all():
            break
        weight = n * dp_dz**2 / (p * (1 - p))  # Fisher information per level
        i_aa, i_ab, i_bb = (np.sum(weight * u * v, axis=1) for u, v in ((dz[0], dz[0]), (dz[0], dz[1]), (dz[1], dz[1])))
        det = i_aa * i_bb - i_ab**2
        det = np.where(np.abs(det) < 1e-300, 1e-300, det)
        step_a = -(i_bb * grad[:, 0] - i_ab * grad[:, 1]) / det
        step_b = -(-i_ab * grad[:, 0] + i_aa * grad[:, 1]) / det
        capped = grad[:, 1] == 0.0  # slope held at its cap: move the threshold alone
        step_a = np.where(capped, -grad[:, 0] / np.maximum(i_aa, 1e-300), step_a)
        step_b = np.where(capped, 0.0, step_b)
        a, b = _line_search(a, b, step_a, step_b, nll, settled, a_bounds, log_t, k, n, floor)
    threshold_on_bound = np.minimum(np.abs(a - a_bounds[0]), np.abs(a - a_bounds[1])) < 1e-6
    return np.column_stack([a, b]), settled & ~threshold_on_bound & np.isfinite(a) & np.isfinite(b)


def _fittable_rounds(k: np.ndarray, n: np.ndarray, floor: float) -> np.ndarray:
    """Rows of per-level counts (levels sorted by exposure) with a finite threshold: _degenerate_reason and
    _separated_levels for every row at once."""
    used = n > 0
    two_levels = used.sum(axis=1) >= 2
    not_all_right = np.any(used & (k < n), axis=1)
    above_floor = np.any(used & (k > floor * n), axis=1)
    at_floor = np.logical_and.accumulate(k <= floor * n, axis=1)
    all_right = np.logical_and.accumulate((k == n)[:, ::-1], axis=1)[:, ::-1]
    separated = np.any(at_floor[:, :-1] & all_right[:, 1:], axis=1)
    return two_levels & not_all_right & above_floor & ~separated


def _line_search(a, b, step_a, step_b, nll, frozen, a_bounds, log_t, k, n, floor):
    """The longest of the halving steps that lowers each row's likelihood (kept inside the bounds)."""
    new_a, new_b = a.copy(), b.copy()
    open_rows = ~frozen
    for fraction in _BATCH_LINE_SEARCH:
        if not open_rows.any():
            break
        try_a = np.clip(a + fraction * step_a, *a_bounds)
        try_b = np.clip(b + fraction * step_b, *_LOG_SLOPE_BOUNDS)
        better = open_rows & (_batch_nll(try_a, try_b, log_t, k, n, floor)[0] < nll)
        new_a[better], new_b[better] = try_a[better], try_b[better]
        open_rows &= ~better
    return new_a, new_b


def _degenerate_reason(log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float) -> str | None:
    """Why the counts have no finite maximum-likelihood fit, or None when they may have one."""
    used = n > 0
    if np.unique(log_t[used]).size < 2:
        return "need trials at two or more distinct exposures to fit a threshold and a slope"
    if np.all(k[used] == n[used]):
        return "every trial succeeded: the threshold lies below the shortest exposure and cannot be estimated"
    if np.all(k[used] <= floor * n[used]):
        return f"no exposure rises above the floor {floor:g}: the threshold lies beyond the longest exposure"
    return None


def _separated(log_t: np.ndarray, k: np.ndarray, n: np.ndarray, floor: float) -> bool:
    """True when some cut splits the exposures into "at or below the floor" and "all correct".

    Such data are fitted ever better by a steeper step, so the slope has no finite maximum; the
    optimiser may stop early on the flat likelihood, so this is checked on the data, not the result.
    """
    levels, index = np.unique(log_t[n > 0], return_inverse=True)
    k_level = np.bincount(index, weights=k[n > 0], minlength=levels.size)
    n_level = np.bincount(index, weights=n[n > 0], minlength=levels.size)
    return _separated_levels(k_level, n_level, floor)


def _separated_levels(k_level: np.ndarray, n_level: np.ndarray, floor: float) -> bool:
    """_separated on counts already pooled per exposure and sorted by it (levels with no trials fit anything)."""
    at_floor = np.logical_and.accumulate(k_level <= floor * n_level)  # every level up to i at the floor
    all_right = np.logical_and.accumulate((k_level == n_level)[::-1])[::-1]  # every level from i correct
    return bool(np.any(at_floor[:-1] & all_right[1:]))


def _start(log_t: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Middle of the tested range (trial-weighted) and a moderate slope: inside the bounds, never degenerate.
    return np.array([float(np.average(log_t, weights=n)), 0.0])


def _aggregate(exposures_ms, successes, trials) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    exposures = np.asarray(exposures_ms, dtype=float).ravel()
    k = np.asarray(successes, dtype=float).ravel()
    n = np.asarray(trials, dtype=float).ravel()
    if not exposures.size == k.size == n.size or exposures.size == 0:
        raise ValueError("exposures_ms, successes and trials must be non-empty and of equal length")
    if not np.all(np.isfinite(exposures)) or np.any(exposures <= 0):
        raise ValueError("exposures_ms must be finite and positive (the fit works in log time)")
    if np.any(n < 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 <= successes <= trials at every exposure")
    return np.log10(exposures), k, n


def psychometric_fit(exposures_ms, successes, trials, *, floor: float = PSYCHOMETRIC_FLOOR) -> PsychometricFit:
    """Maximum-likelihood psychometric curve from binomial counts per exposure (repeated exposures are fine).

    Degenerate data raise ValueError: all successes (threshold below the tested range), no exposure above
    the floor (threshold beyond it), or a single exposure. Step-like data whose likelihood keeps rising
    with the slope (a step: at the floor below some exposure, all correct above) come back with
    ``converged=False``, the slope capped at 100 per decade and the threshold somewhere inside the step.
    """
    _check_floor(floor)
    log_t, k, n = _aggregate(exposures_ms, successes, trials)
    reason = _degenerate_reason(log_t, k, n, floor)
    if reason:
        raise ValueError(reason)
    params, converged = _fit_counts(log_t, k, n, floor, _start(log_t, n))
    converged = converged and not _separated(log_t, k, n, floor)
    return PsychometricFit(
        threshold_ms=float(10 ** params[0]),
        slope=float(math.exp(params[1])),
        floor=floor,
        converged=converged,
        method=psychometric_name(floor),
    )


def psychometric_curve(fit: PsychometricFit, exposures_ms) -> np.ndarray:
    """The fitted proportion at each exposure (ms)."""
    log_t = np.log10(np.asarray(exposures_ms, dtype=float))
    params = np.array([math.log10(fit.threshold_ms), math.log(fit.slope)])
    return _psychometric_p(params, log_t, fit.floor)[0]


def psychometric_threshold_bootstrap(
    trials: np.ndarray,
    *,
    rounds: int = PSYCHOMETRIC_ROUNDS,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    floor: float = PSYCHOMETRIC_FLOOR,
) -> tuple[PsychometricFit, float, float]:
    """Full-data fit and a participant-bootstrap percentile interval (low_ms, high_ms) for its threshold.

    ``trials`` rows are (participant, exposure_ms, success 0/1). Whole participants are resampled so one
    person's correlated answers stay together; every round is refitted from the full-data estimate (warm
    start) on counts aggregated per distinct exposure, all rounds together (_fit_counts_batch). Rounds
    that are degenerate, fail to converge or put the threshold on its bound count as NaN and are left
    out of the percentiles; how many is in the returned fit's ``failed_rounds`` (the interval is NaN if
    every round failed). A round whose slope reaches its cap (a near-step) keeps its threshold.
    """
    trials = np.asarray(trials, dtype=float)
    if trials.ndim != 2 or trials.shape[1] != 3 or trials.shape[0] == 0:
        raise ValueError(f"trials must have shape (N, 3) with N >= 1, got {trials.shape}")
    if not np.all(np.isin(trials[:, 2], (0.0, 1.0))):
        raise ValueError("the success column must hold 0 or 1")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    _check_floor(floor)

    _, person = np.unique(trials[:, 0], return_inverse=True)
    exposures, level = np.unique(trials[:, 1], return_inverse=True)
    per_person_k = _per_person_sums(person, level, person.max() + 1, exposures.size, weights=trials[:, 2])
    per_person_n = _per_person_sums(person, level, person.max() + 1, exposures.size)
    fit = psychometric_fit(exposures, per_person_k.sum(axis=0), per_person_n.sum(axis=0), floor=floor)

    log_t = np.log10(exposures)
    start = np.array([math.log10(fit.threshold_ms), math.log(fit.slope)])
    n_people = per_person_k.shape[0]
    draws = participant_bootstrap_weights(n_people, rounds, seed)
    boot_k, boot_n = draws @ per_person_k, draws @ per_person_n
    fittable = _fittable_rounds(boot_k, boot_n, floor)  # log_t holds one sorted entry per exposure
    thresholds = np.full(rounds, math.nan)
    if fittable.any():
        params, converged = _fit_counts_batch(log_t, boot_k[fittable], boot_n[fittable], floor, start)
        thresholds[np.flatnonzero(fittable)[converged]] = 10 ** params[converged, 0]

    failed = int(np.isnan(thresholds).sum())
    alpha = 1 - confidence
    if failed == rounds:
        low = high = math.nan
    else:
        low, high = (float(q) for q in np.nanpercentile(thresholds, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    fit = PsychometricFit(
        threshold_ms=fit.threshold_ms,
        slope=fit.slope,
        floor=floor,
        converged=fit.converged,
        method=psychometric_bootstrap_name(floor, confidence, rounds),
        failed_rounds=failed,
    )
    return fit, low, high


# HYPE scores (Zhou et al. 2019): HYPE_time from adaptive-staircase exposures, HYPE∞ as an error rate.

HYPE_ROUNDS = 1000
HYPE_TIME_NAME = (
    "HYPE_time: modal staircase exposure per participant and block (ties: mean of the tied exposures), "
    "averaged over blocks, then over participants; participant-bootstrap 95 % percentile interval, 1000 rounds"
)
HYPE_INFINITY_NAME = "HYPE∞: share of wrong answers (error rate)"


def hype_time_name(confidence: float = DEFAULT_CONFIDENCE, rounds: int = HYPE_ROUNDS) -> str:
    """The human-readable name of the HYPE_time score (HYPE_TIME_NAME at the defaults)."""
    return HYPE_TIME_NAME.replace("95 %", f"{confidence * 100:g} %").replace("1000 rounds", f"{rounds} rounds")


@dataclass(frozen=True)
class HypeTimeResult:
    score_ms: float
    low_ms: float
    high_ms: float
    participants: int
    method: str = HYPE_TIME_NAME


def _modal_exposure(exposures: np.ndarray) -> float:
    # Ties go to the mean of the tied exposures: breaking toward the larger (or smaller) one would push
    # every tied block the same way and bias the score; the mean treats both directions alike.
    values, counts = np.unique(exposures, return_counts=True)
    return float(values[counts == counts.max()].mean())


def _participant_bootstrap_mean(
    per_person: np.ndarray, rounds: int, seed: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of the mean over participants, resampling participants with replacement."""
    n_people = per_person.size
    draws = participant_bootstrap_weights(int(n_people), rounds, seed)
    means = draws @ per_person / n_people
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _check_bootstrap_args(rounds: int, confidence: float) -> None:
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def hype_time_score(
    trials: np.ndarray, *, rounds: int = HYPE_ROUNDS, seed: int = 0, confidence: float = DEFAULT_CONFIDENCE
) -> HypeTimeResult:
    """HYPE_time in ms from staircase trials, rows (participant, block, exposure_ms).

    Each participant's score is the mean over their blocks of the block's modal exposure (the exposure
    shown most often); the survey's score is the mean over participants, so every participant weighs
    the same however many blocks they ran.
    """
    trials = np.asarray(trials, dtype=float)
    if trials.ndim != 2 or trials.shape[1] != 3 or trials.shape[0] == 0:
        raise ValueError(f"trials must have shape (N, 3) with N >= 1, got {trials.shape}")
    if not np.all(np.isfinite(trials[:, 2])) or np.any(trials[:, 2] <= 0):
        raise ValueError("exposures must be finite and positive")
    _check_bootstrap_args(rounds, confidence)

    people, person = np.unique(trials[:, 0], return_inverse=True)
    per_person = np.empty(people.size)
    for i in range(people.size):
        mine = trials[person == i]
        blocks = np.unique(mine[:, 1])
        per_person[i] = np.mean([_modal_exposure(mine[mine[:, 1] == b, 2]) for b in blocks])
    low, high = _participant_bootstrap_mean(per_person, rounds, seed, confidence)
    return HypeTimeResult(
        score_ms=float(per_person.mean()),
        low_ms=low,
        high_ms=high,
        participants=int(people.size),
        method=hype_time_name(confidence, rounds),
    )


def hype_infinity_score(correct: np.ndarray) -> float:
    """HYPE∞: the share of wrong answers (1 - accuracy); ``correct`` holds 0/1 (or booleans). NaN if empty."""
    correct = np.asarray(correct, dtype=float).ravel()
    if not np.all(np.isin(correct, (0.0, 1.0))):
        raise ValueError("correct must hold 0 or 1")
    return math.nan if correct.size == 0 else float(1 - correct.mean())


@dataclass(frozen=True)
class HypeInfinityResult:
    score: float  # error rate over all answers
    low: float
    high: float
    participants: int
    method: str = HYPE_INFINITY_NAME


def hype_infinity_bootstrap(
    trials: np.ndarray, *, rounds: int = HYPE_ROUNDS, seed: int = 0, confidence: float = DEFAULT_CONFIDENCE
) -> HypeInfinityResult:
    """HYPE∞ with a participant-bootstrap interval; ``trials`` rows are (participant, correct 0/1).

    The score pools all answers (as HYPE∞ reports it); each round pools the resampled participants'
    answers, so people who answered more weigh more, as in the point estimate.
    """
    trials = np.asarray(trials, dtype=float)
    if trials.ndim != 2 or trials.shape[1] != 2 or trials.shape[0] == 0:
        raise ValueError(f"trials must have shape (N, 2) with N >= 1, got {trials.shape}")
    _check_bootstrap_args(rounds, confidence)
    score = hype_infinity_score(trials[:, 1])
    _, person = np.unique(trials[:, 0], return_inverse=True)
    n_people = person.max() + 1
    wrong = np.bincount(person, weights=1 - trials[:, 1], minlength=n_people)
    answered = np.bincount(person, minlength=n_people).astype(float)
    draws = participant_bootstrap_weights(int(n_people), rounds, seed)
    rates = (draws @ wrong) / (draws @ answered)
    alpha = 1 - confidence
    low, high = np.quantile(rates, [alpha / 2, 1 - alpha / 2])
    return HypeInfinityResult(
        score=score,
        low=float(low),
        high=float(high),
        participants=int(n_people),
        method=f"{HYPE_INFINITY_NAME}; participant-bootstrap {confidence * 100:g} % percentile interval, "
        f"{rounds} rounds",
    )


# --- Planning: how many answers a comparison needs ------------------------------------------------

SAMPLE_SIZE_NAME = "exact two-sided binomial test against 0.5; power computed exactly from the binomial distribution"


@dataclass(frozen=True)
class SampleSize:
    """Answers needed for one comparison to detect ``rate`` against 0.5, and what the interval will look like."""

    answers: int
    power: float  # the exact power at that many answers
    rate: float
    alpha: float
    target_power: float
    expected_wilson_width: float  # width of the 95 % Wilson interval when the observed rate equals ``rate``


def binomial_test_power(n: int, rate: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided binomial test against 0.5 with ``n`` answers when the true rate is ``rate``.

    Against 0.5 the null is symmetric, so the exact two-sided p-value of k is 2 P(X >= max(k, n - k)),
    capped at 1: the same as scipy's binomtest there.
    """
    k = np.arange(n + 1)
    far = np.maximum(k, n - k)
    p_values = np.minimum(1.0, 2 * scipy_stats.binom.sf(far - 1, n, 0.5))
    return float(scipy_stats.binom.pmf(k, n, rate)[p_values <= alpha].sum())


def sample_size(rate: float, *, power: float = 0.8, alpha: float = 0.05, max_answers: int = 100_000) -> SampleSize:
    """The fewest answers at which the exact test reaches ``power`` against a true selection rate ``rate``.

    Exact power saw-tooths with n (the test's discreteness), so the search scans exactly from a
    little below the normal approximation's answer rather than trusting a bisection.
    """
    if not 0 < rate < 1 or rate == 0.5:
        raise ValueError("rate is a selection rate between 0 and 1, other than 0.5 (no difference to detect).")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError("power and alpha are between 0 and 1.")
    z_alpha = float(scipy_stats.norm.ppf(1 - alpha / 2))
    z_power = float(scipy_stats.norm.ppf(power))
    effect = abs(rate - 0.5)
    approx = ((z_alpha * 0.5 + z_power * math.sqrt(rate * (1 - rate))) / effect) ** 2
    start = max(1, int(approx * 0.7))
    for n in range(start, max_answers + 1):
        achieved = binomial_test_power(n, rate, alpha)
        if achieved >= power:
            low, high = wilson(round(rate * n), n)
            return SampleSize(n, achieved, rate, alpha, power, high - low)
    raise ValueError(f"More than {max_answers} answers would be needed to detect {rate:.0%} with this power.")

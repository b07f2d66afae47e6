"""The one place evalsite computes statistics. Pure numpy/scipy: no Django here.

Every number a researcher reads (tables, charts, exports) comes from these functions, and each
function names its method in a constant so an export can say exactly how it was computed.
Later methods (Wilson intervals, one-sided tests, Holm correction, ...) join this module beside
the exact ones below.
"""
import math
from dataclasses import dataclass

from scipy import stats as scipy_stats

DEFAULT_CONFIDENCE = 0.95
TEST_NAME = "exact two-sided binomial test against 0.5 (scipy.stats.binomtest)"
INTERVAL_NAME = "95 % Clopper–Pearson (exact) interval"


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

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

"""A rate with its numerator, denominator and 95% interval."""

from __future__ import annotations

import math

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from harness.record.metrics import SMALL_SAMPLE, Rate

__all__ = ["SMALL_SAMPLE", "Rate", "finite_or_none", "wilson", "wilson_bounds"]


def wilson(k: int, n: int, alpha: float = 0.05) -> Rate:
    """Wilson score interval (statsmodels); an empty denominator gives nulls, never NaN."""
    if n <= 0:
        return Rate(rate=None, ci_low=None, ci_high=None, k=int(k), n=0)
    low, high = wilson_bounds(np.asarray(int(k)), np.asarray(int(n)), alpha)
    return Rate(rate=int(k) / int(n), ci_low=float(low), ci_high=float(high), k=int(k), n=int(n))


def finite_or_none(value: float) -> float | None:
    """A computed number as the record holds it: NaN and infinities are null (JSON has no NaN)."""
    number = float(value)
    return number if math.isfinite(number) else None


def wilson_bounds(k: np.ndarray, n: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson bounds for arrays of counts (n > 0), exactly 0 at k = 0 and exactly 1 at k = n.

    statsmodels' closed form leaves rounding there (1.4e-17 at k = 0 for 430 of n = 1..2000,
    0.9999999999999999 at k = n), and a `max: 0` gate would then fail with no error seen."""
    k, n = np.asarray(k), np.asarray(n)
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    low = np.where(k <= 0, 0.0, np.clip(low, 0.0, 1.0))
    high = np.where(k >= n, 1.0, np.clip(high, 0.0, 1.0))
    return low, high

"""A rate with its numerator, denominator and 95% interval."""

from __future__ import annotations

from typing import TypedDict

from statsmodels.stats.proportion import proportion_confint

SMALL_SAMPLE = 30


class Rate(TypedDict):
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    k: int
    n: int


def wilson(k: int, n: int, alpha: float = 0.05) -> Rate:
    """Wilson score interval (statsmodels); an empty denominator gives nulls, never NaN."""
    if n <= 0:
        return {"rate": None, "ci_low": None, "ci_high": None, "k": int(k), "n": 0}
    low, high = proportion_confint(int(k), int(n), alpha=alpha, method="wilson")
    return {"rate": k / n, "ci_low": float(max(0.0, low)), "ci_high": float(min(1.0, high)), "k": int(k), "n": int(n)}

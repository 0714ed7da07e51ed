"""Wilson intervals: known answers, agreement with statsmodels, and no NaN for empty denominators."""

from __future__ import annotations

import json
import math

import pytest
from statsmodels.stats.proportion import proportion_confint

from harness.metrics.rates import wilson


def test_textbook_value() -> None:
    # 95% Wilson score interval for 81 successes in 263 trials (Wikipedia / Newcombe 1998 example).
    rate = wilson(81, 263)
    assert rate.rate == pytest.approx(81 / 263)
    assert rate.ci_low == pytest.approx(0.2553, abs=5e-5)
    assert rate.ci_high == pytest.approx(0.3662, abs=5e-5)
    assert (rate.k, rate.n) == (81, 263)


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 10, 0.0, 0.2775),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (1, 1000, 0.00018, 0.00565),
])
def test_known_answers(k: int, n: int, low: float, high: float) -> None:
    rate = wilson(k, n)
    assert rate.ci_low == pytest.approx(low, abs=5e-5)
    assert rate.ci_high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (3, 7), (81, 263), (999, 1000)])
def test_matches_statsmodels(k: int, n: int) -> None:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    rate = wilson(k, n)
    assert rate.ci_low == pytest.approx(max(0.0, low), abs=1e-12)
    assert rate.ci_high == pytest.approx(min(1.0, high), abs=1e-12)
    assert rate.ci_low <= rate.rate <= rate.ci_high


def test_zero_successes_interval_is_not_degenerate() -> None:
    # A Wald interval would claim [0, 0]; Wilson keeps honest uncertainty.
    assert wilson(0, 10).ci_high > 0.25


def test_alpha_widens_interval() -> None:
    narrow, wide = wilson(5, 20, alpha=0.10), wilson(5, 20, alpha=0.01)
    assert wide.ci_low < narrow.ci_low and wide.ci_high > narrow.ci_high


def test_empty_denominator_gives_none_not_nan() -> None:
    rate = wilson(0, 0)
    assert rate.model_dump() == {"rate": None, "ci_low": None, "ci_high": None, "k": 0, "n": 0}
    assert "NaN" not in json.dumps(rate.model_dump())
    assert not any(isinstance(v, float) and math.isnan(v) for v in rate.model_dump().values())

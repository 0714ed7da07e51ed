"""The rate every metric reports: numerator, denominator and interval (its own module so that the
metrics blocks in other record modules can use it without importing metrics.py)."""

from __future__ import annotations

from harness.record.usage import Model


class Rate(Model):
    """A rate with its numerator `k`, denominator `n` and 95% interval (nulls when n = 0)."""

    rate: float | None
    ci_low: float | None
    ci_high: float | None
    k: int
    n: int

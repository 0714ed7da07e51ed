"""Zero-tolerance gates: with no error seen the lower bound is exactly 0 (the gate is inconclusive,
not failed), with every item wrong the upper bound is exactly 1, for every n up to 2,000 and for
every interval the harness puts under a gate (Wilson; the weighted posterior and Korn-Graubard)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.config import GateSpec
from harness.metrics.gates import gate_status
from harness.metrics.rates import wilson, wilson_bounds
from harness.metrics.weighted import KORN_GRAUBARD_METHOD, POSTERIOR_METHOD, ratio_interval

N = np.arange(1, 2001)


def test_wilson_bounds_are_exact_at_zero_and_n_for_every_n() -> None:
    low, _ = wilson_bounds(np.zeros_like(N), N)
    _, high = wilson_bounds(N, N)
    assert np.all(low == 0.0) and np.all(high == 1.0)
    low_one, high_one = wilson_bounds(np.ones_like(N), N)
    assert np.all(low_one > 0.0) and np.all((high_one < 1.0) | (N == 1))


def gate(k: int, n: int, spec: GateSpec) -> str:
    return gate_status(spec, wilson(k, n))


def test_zero_tolerance_gate_is_inconclusive_at_zero_and_fails_on_one_error() -> None:
    zero = GateSpec(max=0)
    assert {gate(0, int(n), zero) for n in N} == {"inconclusive"}
    assert {gate(1, int(n), zero) for n in N} == {"fail"}
    assert gate(0, 19, zero) == "inconclusive"  # the example
    assert {gate(int(n), int(n), GateSpec(min=1)) for n in N} == {"inconclusive"}


def padded(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row n-1 holds an eval set of n items (the rest weigh 0): every n in one vectorised call."""
    in_set = np.arange(N.size)[None, :] < N[:, None]
    return in_set, np.where(in_set, weights[None, :], 0.0)


@pytest.mark.parametrize(("weights", "interval", "method"), [
    (np.full(N.size, 3.0), "posterior", POSTERIOR_METHOD),
    (np.where(np.arange(N.size) % 2 == 0, 1.0, 5.0), "posterior", POSTERIOR_METHOD),  # two weight classes
    (np.linspace(1.0, 5.0, N.size), "posterior", POSTERIOR_METHOD),  # every weight differs: Kish-scaled counts
    (np.where(np.arange(N.size) % 2 == 0, 1.0, 5.0), "korn-graubard", KORN_GRAUBARD_METHOD),  # the compared one
])
def test_weighted_bounds_are_exact_at_zero_and_n_for_every_n(weights: np.ndarray, interval: str, method: str) -> None:
    in_set, w = padded(weights)
    none = ratio_interval(np.zeros_like(in_set), in_set, w, draws=50, interval=interval)
    every = ratio_interval(in_set, in_set, w, draws=50, interval=interval)
    assert none["method"] == method == every["method"]
    assert np.all(none["ci_low"] == 0.0) and np.all(none["ci_high"] > 0.0)
    assert np.all(every["ci_high"] == 1.0) and np.all(every["ci_low"] < 1.0)

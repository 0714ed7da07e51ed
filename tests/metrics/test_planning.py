"""`plan`: items needed for a rate within a margin, and for a paired comparison with given power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from harness._cli.main import main
from harness.errors import HarnessError
from harness.metrics.planning import (
    items_for_margin,
    mcnemar_exact_items,
    mcnemar_exact_power,
    mcnemar_items,
    plan_paired,
    plan_rate,
)


@pytest.mark.parametrize(("rate", "margin", "expected"), [
    (0.5, 0.05, 385),   # the textbook n = 1.96^2 * 0.25 / 0.05^2 = 384.1
    (0.05, 0.02, 457),  # 1.96^2 * 0.05 * 0.95 / 0.02^2 = 456.2
    (0.1, 0.03, 385),   # 1.96^2 * 0.09 / 0.0009 = 384.1
])
def test_normal_formula_known_answers(rate: float, margin: float, expected: int) -> None:
    assert items_for_margin(rate, margin, method="normal") == expected


def test_wilson_zero_rate_has_a_closed_form() -> None:
    # Wilson's upper bound with 0 events is z^2 / (n + z^2): <= m when n >= z^2 (1 - m) / m.
    z2 = norm.ppf(0.975) ** 2
    assert items_for_margin(0.0, 0.03) == math.ceil(z2 * (1 - 0.03) / 0.03)


@pytest.mark.parametrize(("rate", "margin"), [(0.5, 0.05), (0.05, 0.02), (0.01, 0.01), (0.2, 0.1)])
def test_wilson_size_is_the_smallest_that_meets_the_margin(rate: float, margin: float) -> None:
    n = items_for_margin(rate, margin)

    def reach(size: int) -> float:
        low, high = proportion_confint(rate * size, size, method="wilson")
        return max(rate - low, high - rate)

    assert reach(n) <= margin < reach(n - 1)


def test_connor_published_example() -> None:
    # Connor (1987), p. 209: p01 = 0.45, p10 = 0.05, two-sided alpha 0.05, power 0.8 -> 23 pairs.
    assert mcnemar_items(0.5, 0.4) == 23
    assert mcnemar_items(0.5, -0.4) == 23


def test_exact_power_agrees_with_simulation() -> None:
    # Exact McNemar tests on simulated paired tables at n = 870: the share rejected is the power.
    from scipy.stats import binom

    rng = np.random.default_rng(5)
    n, psi, change = 870, 0.1, 0.03
    tables = rng.multinomial(n, [0.0, (psi - change) / 2, (psi + change) / 2, 1 - psi], size=4000)
    down, up = tables[:, 1], tables[:, 2]
    p = np.minimum(1.0, 2 * binom.cdf(np.minimum(up, down), up + down, 0.5))
    assert mcnemar_exact_power(n, psi, change) == pytest.approx(np.mean(p < 0.05), abs=0.02)


def test_connor_size_gives_about_the_asked_power_and_exact_size_reaches_it() -> None:
    plan = plan_paired(0.1, 0.03, 0.8)
    assert plan["items"] == mcnemar_items(0.1, 0.03)
    assert 0.75 <= plan["exact_test_power"] <= 0.85  # the exact test is a little conservative
    exact = mcnemar_exact_items(0.1, 0.03, 0.8)
    assert exact >= plan["items"] and mcnemar_exact_power(exact, 0.1, 0.03) >= 0.8


def test_plan_rate_scales_by_slices() -> None:
    plan = plan_rate(0.05, 0.02, slices=4)
    assert plan["total"] == 4 * plan["per_slice"]["wilson"]


@pytest.mark.parametrize("call", [
    lambda: items_for_margin(0.05, 0.0),
    lambda: items_for_margin(1.5, 0.02),
    lambda: mcnemar_items(0.1, 0.2),
    lambda: mcnemar_items(0.1, 0.0),
])
def test_bad_inputs_are_harness_errors(call: object) -> None:
    with pytest.raises(HarnessError):
        call()  # type: ignore[operator]


def test_cli_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--rate", "0.05", "--margin", "0.02"]) == 0
    out = capsys.readouterr().out
    assert f"{items_for_margin(0.05, 0.02):,} items per slice" in out and "457" in out


def test_cli_paired(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--paired", "--p-discordant", "0.1", "--change", "0.03", "--power", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "870 paired items" in out and "exact McNemar" in out


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--rate", "0.05"]) == 2
    assert main(["plan", "--paired", "--p-discordant", "0.1", "--change", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2

"""`plan`: how many items an eval set needs, before anything is labelled or judged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import binom, norm
from statsmodels.stats.proportion import proportion_confint, samplesize_confint_proportion

from harness.errors import HarnessError

MAX_ITEMS = 100_000_000


def items_for_margin(rate: float, margin: float, alpha: float = 0.05, method: str = "wilson") -> int:
    """Items (in the rate's denominator) for a 1-alpha interval within +/- margin of `rate`.

    "normal" is statsmodels' samplesize_confint_proportion (the Wald formula, which asks for no
    items at all when the rate is 0). "wilson" is the smallest n whose Wilson interval around the
    expected count lies within the margin on both sides, found by bisection on statsmodels'
    proportion_confint; it is the interval the harness reports.
    """
    _check_share("rate", rate, closed=True)
    _check_share("margin", margin)
    _check_share("alpha", alpha)
    if method == "normal":
        return max(1, math.ceil(float(samplesize_confint_proportion(rate, margin, alpha=alpha)) - 1e-9))
    if method != "wilson":
        raise HarnessError(f"The 'method' parameter of items_for_margin must be 'wilson' or 'normal'. Got {method!r} instead.")

    def within(n: int) -> bool:
        low, high = proportion_confint(rate * n, n, alpha=alpha, method="wilson")
        return bool(max(rate - low, high - rate) <= margin)

    high = 1
    while not within(high):
        high *= 2
        if high > MAX_ITEMS:
            raise HarnessError(f"a margin of {margin:g} needs more than {MAX_ITEMS:,} items; widen the margin.")
    low = high // 2
    while high - low > 1:  # invariant: within(high) holds, within(low) does not (or low == 0)
        middle = (low + high) // 2
        low, high = (low, middle) if within(middle) else (middle, high)
    return high


def mcnemar_items(p_discordant: float, change: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Paired items for a two-sided McNemar test to detect `change` (after - before rate).

    Connor, Biometrics 43:207-211 (1987), eq. 3; statsmodels has no McNemar power:
    n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta^2))^2 / delta^2.
    """
    _check_paired(p_discordant, change, power, alpha)
    delta = abs(change)
    root = norm.ppf(1 - alpha / 2) * math.sqrt(p_discordant) + norm.ppf(power) * math.sqrt(p_discordant - delta**2)
    return math.ceil(root**2 / delta**2 - 1e-9)


def mcnemar_exact_power(n: int, p_discordant: float, change: float, alpha: float = 0.05) -> float:
    """Power of the exact (conditional) McNemar test with n paired items: the conditional power
    given m discordant pairs, averaged over m ~ Binomial(n, psi) (as SAS PROC POWER DIST=EXACT_COND)."""
    _check_paired(p_discordant, change, 0.5, alpha)
    m = np.arange(n + 1)
    # Largest k with 2 * P(X <= k) <= alpha under X ~ Binomial(m, 1/2): the exact test rejects min(x, m-x) <= k.
    k = binom.ppf(alpha / 2, m, 0.5)
    k = np.where(2 * binom.cdf(k, m, 0.5) > alpha, k - 1, k)
    q = (p_discordant + change) / (2 * p_discordant)  # share of discordant pairs that go up
    reject = np.where(k >= 0, binom.cdf(k, m, q) + binom.sf(m - k - 1, m, q), 0.0)
    return float(np.sum(binom.pmf(m, n, p_discordant) * reject))


def mcnemar_exact_items(p_discordant: float, change: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Items for the exact McNemar test to reach `power`: bisection upwards from Connor's n (the
    exact test is conservative, so it needs a few more). Power zig-zags with n for a discrete test;
    this finds a size at which it is reached, close to the smallest."""
    low = mcnemar_items(p_discordant, change, power, alpha) - 1
    high = low + 1
    while mcnemar_exact_power(high, p_discordant, change, alpha) < power:
        low, high = high, high * 2
        if high > MAX_ITEMS:
            raise HarnessError("the exact test needs more than 100,000,000 items; plan for a larger change.")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if mcnemar_exact_power(middle, p_discordant, change, alpha) >= power else (middle, high)
    return high


def plan_rate(rate: float, margin: float, slices: int = 1, alpha: float = 0.05) -> dict[str, Any]:
    wilson = items_for_margin(rate, margin, alpha, "wilson")
    normal = items_for_margin(rate, margin, alpha, "normal")
    return {"rate": rate, "margin": margin, "alpha": alpha, "per_slice": {"wilson": wilson, "normal": normal},
            "slices": slices, "total": wilson * slices}


def plan_paired(p_discordant: float, change: float, power: float = 0.8, alpha: float = 0.05) -> dict[str, Any]:
    n = mcnemar_items(p_discordant, change, power, alpha)
    return {"p_discordant": p_discordant, "change": change, "power": power, "alpha": alpha, "items": n,
            "expected_discordant": n * p_discordant,
            "exact_test_power": mcnemar_exact_power(n, p_discordant, change, alpha),
            "items_exact_test": mcnemar_exact_items(p_discordant, change, power, alpha)}


def rate_text(plan: dict[str, Any]) -> str:
    lines = [f"To estimate a rate near {plan['rate']:.1%} within +/-{plan['margin']:.1%} "
             f"({1 - plan['alpha']:.0%} interval):",
             f"  {plan['per_slice']['wilson']:,} items per slice in the rate's denominator (the Wilson interval the "
             "harness reports stays within the margin on both sides)",
             f"  ({plan['per_slice']['normal']:,} by the normal-approximation formula)",
             "  over-enforcement counts decided benign items; leakage counts decided violating items"]
    if plan["slices"] > 1:
        lines.append(f"  {plan['total']:,} such items for {plan['slices']} slices")
    return "\n".join(lines)


def paired_text(plan: dict[str, Any]) -> str:
    return "\n".join([
        f"To detect a change of {plan['change']:+.1%} between two policy versions judged on the same items, "
        f"with {plan['p_discordant']:.1%} of items flipping, at {plan['power']:.0%} power "
        f"(two-sided alpha {plan['alpha']:g}):",
        f"  {plan['items']:,} paired items in the rate's denominator (Connor 1987); about "
        f"{plan['expected_discordant']:,.0f} of them will flip",
        "  benign items for an over-enforcement change, violating items for a leakage change",
        f"  the exact McNemar test the harness reports has {plan['exact_test_power']:.1%} power at that size, "
        f"and reaches {plan['power']:.0%} at about {plan['items_exact_test']:,} items"])


def _check_share(name: str, value: float, closed: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok or math.isnan(value):
        bounds = "[0, 1]" if closed else "(0, 1)"
        raise HarnessError(f"--{name.replace('_', '-')} must be a number in {bounds}. Got {value:g} instead.")


def _check_paired(p_discordant: float, change: float, power: float, alpha: float) -> None:
    _check_share("p_discordant", p_discordant)
    _check_share("power", power)
    _check_share("alpha", alpha)
    if change == 0 or abs(change) >= p_discordant:
        raise HarnessError(f"--change must be non-zero and smaller in size than --p-discordant (a change needs "
                           f"flips). Got change {change:g} with p-discordant {p_discordant:g} instead.")

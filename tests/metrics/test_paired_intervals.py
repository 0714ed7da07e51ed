"""Paired comparison statistics: Newcombe's interval, McNemar exact and mid-p, per-slice adjustment."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from scipy.stats import binom
from statsmodels.stats.multitest import multipletests
from support.models import plain

from harness.metrics.paired import newcombe_paired_interval, paired_change, paired_comparison

# Cavo et al. (2012), complete response before (rows) and after (columns) consolidation therapy:
# both 59, before only 6, after only 16, neither 80. Published values from Fagerland, Lydersen & Laake,
# Statistical Analysis of Contingency Tables (2017), chapter 8, for the difference before - after:
# Newcombe square-and-add -0.0621 (-0.1186 to -0.0046); McNemar exact P = 0.052479; mid-P = 0.034690.
CAVO = (59, 6, 16, 80)


def test_newcombe_interval_matches_published_example() -> None:
    low, high = newcombe_paired_interval(*CAVO)
    assert low == pytest.approx(0.0046, abs=5e-5)  # after - before is the published interval negated
    assert high == pytest.approx(0.1186, abs=5e-5)


def test_mcnemar_exact_and_mid_p_match_published_example() -> None:
    out = plain(paired_change(*CAVO))
    assert out["p_value"] == pytest.approx(0.052479, abs=5e-7)
    assert out["p_value_mid"] == pytest.approx(0.034690, abs=5e-7)
    assert out["change"] == pytest.approx(10 / 161)
    assert (out["up"], out["down"], out["n"]) == (16, 6, 161)
    assert out["ci_method"].startswith("newcombe")


def test_small_counts_give_a_proper_interval() -> None:
    # With no flips at all the paired Wald interval collapses to the point [0, 0]; Newcombe's keeps
    # honest width, and stays inside [-1, 1].
    low, high = newcombe_paired_interval(0, 0, 2, 8)
    assert -1.0 <= low < 0.2 < high <= 1.0
    low, high = newcombe_paired_interval(0, 0, 0, 10)
    assert low < 0.0 < high


def test_no_items_gives_nulls() -> None:
    out = plain(paired_change(0, 0, 0, 0))
    assert out["change"] is None and out["ci_low"] is None and out["n"] == 0


def sliced_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three slices: one with a large over-enforcement drop, two unchanged."""
    before, after = [], []
    for slice_name, fixed, broken, steady in (("counter", 12, 0, 8), ("news", 2, 1, 17), ("plain", 1, 1, 18)):
        for i in range(fixed + broken + steady):
            b, a = (("actioned", "allowed") if i < fixed else ("allowed", "actioned") if i < fixed + broken
                    else ("allowed", "allowed"))
            item = {"item_id": f"{slice_name}{i}", "gold": "benign", "text": "t", "rule_ids": "", "tactic": slice_name}
            before.append({**item, "decision": b, "rationale": ""})
            after.append({**item, "decision": a, "rationale": ""})
    return pd.DataFrame(before), pd.DataFrame(after)


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_slice_p_values_are_adjusted_as_one_family(method: str) -> None:
    out = plain(paired_comparison(*sliced_frames(), ["tactic"], adjust=method))
    slices = out["slices"]["tactic"]
    raw = [slices[s]["over_enforcement_change"]["p_value"] for s in ("counter", "news", "plain")]
    expected = multipletests(raw, method=method)[1]
    got = [slices[s]["over_enforcement_change"]["p_adjusted"] for s in ("counter", "news", "plain")]
    assert got == pytest.approx(list(expected))
    assert out["slice_adjustment"] == {"method": method, "tests": 3}  # leakage has no violating items here
    assert slices["counter"]["leakage_change"]["p_adjusted"] is None
    json.dumps(out, allow_nan=False)


def test_holm_by_hand() -> None:
    out = plain(paired_comparison(*sliced_frames(), ["tactic"]))
    slices = out["slices"]["tactic"]
    raw = sorted((slices[s]["over_enforcement_change"]["p_value"], s) for s in slices)
    # Holm: the i-th smallest of m p-values is multiplied by (m - i), then made monotone.
    smallest, name = raw[0]
    assert slices[name]["over_enforcement_change"]["p_adjusted"] == pytest.approx(min(1.0, 3 * smallest))
    assert slices["counter"]["over_enforcement_change"]["p_adjusted"] < 0.05  # the real drop survives


def test_existing_top_level_keys_are_stable() -> None:
    out = plain(paired_comparison(*sliced_frames(), ["tactic"]))
    for key in ("items", "paired_decided", "newly_actioned", "newly_allowed", "fixed", "broken",
                "accuracy_mcnemar_p", "over_enforcement_change", "leakage_change", "only_in_before",
                "only_in_after", "slices", "flips"):
        assert key in out
    for key in ("before", "after", "change", "ci_low", "ci_high", "p_value", "n", "up", "down"):
        assert key in out["over_enforcement_change"]


@pytest.mark.parametrize(("up", "down"), [(1, 1), (3, 3), (10, 10)])
def test_mid_p_at_a_tie_is_one_minus_half_the_observed_probability(up: int, down: int) -> None:
    # Fagerland, Lydersen & Laake (2013): no table is less extreme than a tie, so mid-p = 1 - pmf/2.
    out = plain(paired_change(0, down, up, 10))
    assert out["p_value"] == 1.0
    assert out["p_value_mid"] == pytest.approx(1 - binom.pmf(up, up + down, 0.5) / 2)
    assert plain(paired_change(0, 1, 1, 0))["p_value_mid"] == pytest.approx(0.75)


def test_a_slice_with_no_discordant_pair_is_not_a_test() -> None:
    before, after = sliced_frames()
    still = after["tactic"] == "plain"
    after.loc[still, "decision"] = before.loc[still, "decision"]  # 'plain' now has no flips
    out = plain(paired_comparison(before, after, ["tactic"]))
    slices = out["slices"]["tactic"]
    assert out["slice_adjustment"]["tests"] == 2
    assert slices["plain"]["over_enforcement_change"]["p_adjusted"] is None
    raw = [slices[s]["over_enforcement_change"]["p_value"] for s in ("counter", "news")]
    got = [slices[s]["over_enforcement_change"]["p_adjusted"] for s in ("counter", "news")]
    assert got == pytest.approx(list(multipletests(raw, method="holm")[1]))

"""Paired comparison of two policy versions on the same items, with McNemar's exact test."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import binomtest
from support.models import plain

from harness.metrics.paired import paired_comparison

# (gold, before, after, count)
PAIRS = [
    ("benign", "actioned", "allowed", 4),   # fixed benign (over-enforcement removed)
    ("benign", "allowed", "actioned", 1),   # broken benign
    ("benign", "allowed", "allowed", 5),
    ("HS", "allowed", "actioned", 3),       # fixed violating (leak closed)
    ("HS", "actioned", "allowed", 1),       # broken violating
    ("HS", "actioned", "actioned", 5),
    ("HS", "actioned", "abstained", 1),     # not paired-decided
]


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    before, after = [], []
    n = 0
    for gold, b, a, count in PAIRS:
        for _ in range(count):
            item = {"item_id": f"i{n}", "gold": gold, "text": f"text {n}", "rule_ids": "",
                    "functionality": "counter" if gold == "benign" else "hate"}
            before.append({**item, "decision": b, "rationale": f"before {n}"})
            after.append({**item, "decision": a, "rationale": f"after {n}"})
            n += 1
    before.append({"item_id": "only-before", "gold": "benign", "text": "x", "rule_ids": "",
                   "functionality": "counter", "decision": "allowed", "rationale": ""})
    return pd.DataFrame(before), pd.DataFrame(after)


def test_counts() -> None:
    before, after = frames()
    out = plain(paired_comparison(before, after, ["functionality"]))
    assert out["items"] == 20 and out["paired_decided"] == 19
    assert out["only_in_before"] == 1 and out["only_in_after"] == 0
    assert out["fixed"] == {"benign": 4, "violating": 3}
    assert out["broken"] == {"benign": 1, "violating": 1}
    assert out["newly_actioned"] == {"benign": 1, "violating": 3}
    assert out["newly_allowed"] == {"benign": 4, "violating": 1}


def test_mcnemar_exact_matches_binomial_test_on_discordant_pairs() -> None:
    out = plain(paired_comparison(*frames(), []))
    # 7 fixed vs 2 broken discordant pairs
    assert out["accuracy_mcnemar_p"] == pytest.approx(binomtest(2, 9, 0.5, alternative="two-sided").pvalue)


def test_rate_changes() -> None:
    out = plain(paired_comparison(*frames(), []))
    oe = out["over_enforcement_change"]
    assert (oe["n"], oe["up"], oe["down"]) == (10, 1, 4)
    assert oe["before"] == pytest.approx(0.4) and oe["after"] == pytest.approx(0.1)
    assert oe["change"] == pytest.approx(-0.3)
    assert oe["ci_low"] < oe["change"] < oe["ci_high"]
    assert oe["p_value"] == pytest.approx(binomtest(1, 5, 0.5).pvalue)
    leak = out["leakage_change"]
    assert (leak["n"], leak["up"], leak["down"]) == (9, 1, 3)
    assert leak["change"] == pytest.approx(-2 / 9)


def test_no_discordant_pairs_gives_p_one() -> None:
    before, _ = frames()
    out = plain(paired_comparison(before, before.copy(), []))
    assert out["accuracy_mcnemar_p"] == 1.0 and out["flips"] == []
    assert out["over_enforcement_change"]["change"] == 0.0


def test_flips_and_slices() -> None:
    out = plain(paired_comparison(*frames(), ["functionality"]))
    assert len(out["flips"]) == 10
    flip = next(f for f in out["flips"] if f["decision_after"] == "abstained")
    assert flip["decision_before"] == "actioned" and flip["rationale_after"].startswith("after")
    counter = out["slices"]["functionality"]["counter"]
    assert counter["fixed"] == {"benign": 4, "violating": 0}
    assert counter["over_enforcement_change"]["change"] == pytest.approx(-0.3)
    assert out["slices"]["functionality"]["hate"]["broken"] == {"benign": 0, "violating": 1}


def test_empty_denominator_gives_none() -> None:
    before, after = frames()
    keep = before["gold"] == "HS"
    out = plain(paired_comparison(before[keep], after[after["gold"] == "HS"], []))
    assert out["over_enforcement_change"]["change"] is None and out["over_enforcement_change"]["n"] == 0

"""Repeated samples: the majority decision per item, a tie is an abstention; stability figures."""

from __future__ import annotations

import pandas as pd
from support.models import plain

from harness.metrics.samples import majority, stability
from harness.verdicts import Verdict, verdict_table


def sampled(decisions: dict[str, list[str]]) -> pd.DataFrame:
    verdicts = [Verdict(item_id=item, decision=d, score=1.0 if d == "actioned" else 0.0, sample=s,
                        rationale=f"{item} sample {s}")
                for item, ds in decisions.items() for s, d in enumerate(ds)]
    return verdict_table(verdicts, policy="p@v1", reviewer="llm")


def test_majority_and_tie() -> None:
    table = sampled({"clear": ["actioned", "actioned", "allowed", "actioned"],
                     "tie": ["actioned", "allowed", "allowed", "actioned"],
                     "unanimous": ["allowed"] * 4})
    result = majority(table)
    assert list(result.columns) == list(table.columns)
    out = result.set_index("item_id")
    assert len(out) == 3
    assert out.loc["clear", "decision"] == "actioned"
    assert out.loc["unanimous", "decision"] == "allowed"
    assert out.loc["tie", "decision"] == "abstained"
    assert out.loc["tie", "abstain_reason"] == "samples split evenly"
    assert out.loc["clear", "score"] == 0.75


def test_three_way_tie_abstains() -> None:
    out = majority(sampled({"x": ["actioned", "allowed", "abstained"]}))
    assert list(out["decision"]) == ["abstained"]


def test_single_sample_is_unchanged() -> None:
    table = sampled({"a": ["actioned"], "b": ["allowed"]})
    assert majority(table).equals(table)
    assert plain(stability(table)) is None


def test_stability() -> None:
    out = plain(stability(sampled({"steady": ["allowed"] * 4, "shaky": ["actioned", "allowed", "actioned", "actioned"]})))
    assert out["samples"] == 4
    assert out["unstable_items"] == 1 and out["unstable_item_ids"] == ["shaky"]
    assert out["mean_agreement"] == (1.0 + 0.75) / 2

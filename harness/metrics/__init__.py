"""Metrics of a run: rates with intervals, per category and slice, gates, paired comparison."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.config import GateSpec
from harness.metrics.compare import paired_comparison
from harness.metrics.confusion import category_rates, rates, slice_rates
from harness.metrics.gates import evaluate_gates
from harness.metrics.rates import wilson
from harness.metrics.samples import majority, stability

__all__ = ["compute_metrics", "reviewer_metrics", "paired_comparison", "rates", "wilson"]


def reviewer_metrics(frame: pd.DataFrame, *, categories: list[str], slices: list[str],
                     gates: dict[str, GateSpec]) -> dict[str, Any]:
    """All metrics of one reviewer under one policy; `frame` holds one decided row per item."""
    out = rates(frame)
    out["categories"] = category_rates(frame, categories)
    out["slices"] = slice_rates(frame, slices)
    out["gates"] = evaluate_gates(gates, out)
    return out


def compute_metrics(verdicts: pd.DataFrame, *, candidate: str, baseline: str | None,
                    categories: list[str], slices: list[str], gates: dict[str, GateSpec]) -> dict[str, Any]:
    """`verdicts` is the joined verdict table (gold, text and slices beside each decision)."""
    per_item = majority(verdicts)
    by_policy: dict[str, dict[str, Any]] = {}
    for (policy, reviewer), frame in per_item.groupby(["policy", "reviewer"], sort=False):
        entry = reviewer_metrics(frame, categories=categories, slices=slices, gates=gates)
        entry["stability"] = stability(verdicts[(verdicts["policy"] == policy) & (verdicts["reviewer"] == reviewer)])
        by_policy.setdefault(str(policy), {})[str(reviewer)] = entry
    out: dict[str, Any] = {
        "policy": candidate,
        "reviewers": by_policy.get(candidate, {}),
        "baseline": {"policy": baseline, "reviewers": by_policy.get(baseline, {})} if baseline else None,
        "comparison": {},
    }
    if baseline:
        for reviewer in out["reviewers"]:
            before = per_item[(per_item["policy"] == baseline) & (per_item["reviewer"] == reviewer)]
            after = per_item[(per_item["policy"] == candidate) & (per_item["reviewer"] == reviewer)]
            if len(before) and len(after):
                out["comparison"][reviewer] = paired_comparison(before, after, slices)
    return out

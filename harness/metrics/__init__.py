"""Metrics of a run: rates with intervals, per category and slice, gates, paired comparison."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.config import GateSpec, StrataSpec
from harness.evalset.annotations import Annotations
from harness.labels import UNKNOWN
from harness.metrics.agreement import agreement
from harness.metrics.annotators import annotator_metrics
from harness.metrics.answers import answer_breakdown
from harness.metrics.confusion import category_rates, rates, relabel_candidates, slice_rates, without_contested
from harness.metrics.counts import COUNT, ITEM_KEY, with_item_keys
from harness.metrics.errors import candidate_errors
from harness.metrics.gates import evaluate_gates
from harness.metrics.languages import language_rates
from harness.metrics.paired import paired_comparison
from harness.metrics.rates import wilson
from harness.metrics.samples import majority, stability
from harness.metrics.thresholds import threshold_analysis
from harness.metrics.weighted import is_weighted, weighted_metrics
from harness.record import Metrics, finite

__all__ = ["compute_metrics", "reviewer_metrics", "paired_comparison", "rates", "wilson"]


def reviewer_metrics(frame: pd.DataFrame, *, categories: list[str], slices: list[str],
                     gates: dict[str, GateSpec]) -> dict[str, Any]:
    """All metrics of one reviewer under one policy; `frame` holds one decided row per item."""
    out = rates(frame)
    out["categories"] = category_rates(frame, categories)
    out["slices"] = slice_rates(frame, slices)
    out["languages"] = language_rates(frame, slices)
    if (kept := without_contested(frame, categories, slices)) is not None:
        out["without_contested"] = kept
    out["gates"] = evaluate_gates(gates, out)
    return out


def compute_metrics(verdicts: pd.DataFrame, *, candidate: str, baseline: str | None,
                    categories: list[str], slices: list[str], gates: dict[str, GateSpec],
                    strata: StrataSpec | None = None,
                    prevalence: float | dict[str, float] | None = None,
                    annotations: Annotations | None = None, name: str = "") -> Metrics:
    """`verdicts` is the joined verdict table (gold, text and slices beside each decision).
    `strata` and `prevalence` (the eval set's) turn on population estimates, as does a weight column;
    `annotations` (an annotated set's raw judgements) adds the `annotators` block. The candidate's
    mistakes item by item (`errors`: confusion counts, exemplars, failure clusters of run `name`) are
    counted here too, so the report renders the record without computing."""
    [verdicts] = with_item_keys(verdicts)
    per_item = majority(verdicts)
    # Unknown gold (multi-label sets with missing labels) counts in no error rate or agreement with gold.
    # Only the columns agreement and the paired comparison read: copying every column of a million
    # rows costs more than their counting.
    paired_columns = [ITEM_KEY, "item_id", "policy", "reviewer", "gold", "decision", "text", "rationale", "rule_ids",
                      COUNT, *slices]
    known = per_item.loc[per_item["gold"] != UNKNOWN, [c for c in dict.fromkeys(paired_columns) if c in per_item]]
    repeated = per_item is not verdicts
    by_policy: dict[str, dict[str, Any]] = {}
    for (policy, reviewer), frame in per_item.groupby(["policy", "reviewer"], sort=False):
        entry = reviewer_metrics(frame, categories=categories, slices=slices, gates=gates)
        own = verdicts[(verdicts["policy"] == policy) & (verdicts["reviewer"] == reviewer)] if repeated else frame
        entry["stability"] = stability(own)
        entry["answers"] = answer_breakdown(own)
        if is_weighted(frame, strata, prevalence):
            entry["weighted"] = weighted_metrics(frame, categories=categories, strata=strata, prevalence=prevalence)
        if (thresholds := threshold_analysis(frame[frame["gold"] != UNKNOWN], gates)) is not None:
            entry["thresholds"] = thresholds
        by_policy.setdefault(str(policy), {})[str(reviewer)] = entry
    out: dict[str, Any] = {
        "policy": candidate,
        "reviewers": by_policy.get(candidate, {}),
        "baseline": {"policy": baseline, "reviewers": by_policy.get(baseline, {})} if baseline else None,
        "comparison": {},
        "relabel_candidates": relabel_candidates(per_item, candidate),
        "agreement": {str(policy): agreement(frame) for policy, frame in known.groupby("policy", sort=False)},
    }
    if annotations is not None:
        out["annotators"] = annotator_metrics(annotations.for_items(verdicts["item_id"]))
    if baseline:
        for reviewer in out["reviewers"]:
            before = known[(known["policy"] == baseline) & (known["reviewer"] == reviewer)]
            after = known[(known["policy"] == candidate) & (known["reviewer"] == reviewer)]
            if len(before) and len(after):
                out["comparison"][reviewer] = paired_comparison(before, after, slices)
    # The flips (a record per changed item, 100,000 at scale) come JSON-clean from `records`;
    # walking them again in `finite` took longer than all the counting.
    flips = {reviewer: comparison.pop("flips") for reviewer, comparison in out["comparison"].items()}
    clean = finite(out)
    for reviewer, rows in flips.items():
        clean["comparison"][reviewer]["flips"] = rows
    metrics = Metrics.model_validate(clean)
    metrics.errors = candidate_errors(verdicts, per_item, name=name, candidate=candidate, slices=slices)
    return metrics

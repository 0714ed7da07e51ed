"""Metrics of a run: rates with intervals, per category and slice, gates, paired comparison."""

from __future__ import annotations

import pandas as pd

from harness.config import GateSpec, StrataSpec
from harness.evalset.annotations import Annotations
from harness.labels import UNKNOWN
from harness.metrics.agreement import agreement
from harness.metrics.annotators import annotator_metrics
from harness.metrics.answers import answer_breakdown
from harness.metrics.calibration import calibration
from harness.metrics.confusion import category_rates, rates, relabel_candidates, slice_rates, without_contested
from harness.metrics.consistency import consistency
from harness.metrics.counts import COUNT, ITEM_KEY, with_item_keys
from harness.metrics.errors import candidate_errors
from harness.metrics.gates import evaluate_gates
from harness.metrics.languages import language_rates
from harness.metrics.paired import paired_comparison
from harness.metrics.rates import wilson
from harness.metrics.rationale import rationale_consistency, rationale_gates
from harness.metrics.samples import majority, stability
from harness.metrics.thresholds import threshold_analysis
from harness.metrics.weighted import is_weighted, weighted_metrics
from harness.policy.structure import PolicyStructure
from harness.record.metrics import Baseline, Metrics, PairedComparison, ReviewerMetrics

__all__ = ["compute_metrics", "reviewer_metrics", "paired_comparison", "rates", "wilson"]


def reviewer_metrics(frame: pd.DataFrame, *, categories: list[str], slices: list[str],
                     gates: dict[str, GateSpec]) -> ReviewerMetrics:
    """All metrics of one reviewer under one policy; `frame` holds one decided row per item."""
    overall = rates(frame)
    by_category = category_rates(frame, categories)
    by_slice = slice_rates(frame, slices)
    return ReviewerMetrics(**dict(overall), categories=by_category, slices=by_slice,
                           languages=language_rates(frame, slices),
                           without_contested=without_contested(frame, categories, slices),
                           gates=evaluate_gates(gates, overall, by_category, by_slice),
                           consistency=consistency(frame, slices))


def compute_metrics(verdicts: pd.DataFrame, *, candidate: str, baseline: str | None,
                    categories: list[str], slices: list[str], gates: dict[str, GateSpec],
                    strata: StrataSpec | None = None,
                    prevalence: float | dict[str, float] | None = None,
                    annotations: Annotations | None = None, name: str = "",
                    rationale: dict[str, tuple[PolicyStructure, frozenset[str]]] | None = None) -> Metrics:
    """`verdicts` is the joined verdict table (gold, text and slices beside each decision).
    `strata` and `prevalence` (the eval set's) turn on population estimates, as does a weight column;
    `annotations` (an annotated set's raw judgements) adds the `annotators` block. The candidate's
    mistakes item by item (`errors`: confusion counts, exemplars, failure clusters of run `name`) are
    counted here too, so the report renders the record without computing. `rationale` maps a policy
    label to its structure and the reviewers asked for a rationale under it (the LLM reviewers): their
    rationales are checked against the policy (`rationale` block, `rationale_inconsistency` gates)."""
    [verdicts] = with_item_keys(verdicts)
    per_item = majority(verdicts)
    # Unknown gold (multi-label sets with missing labels) counts in no error rate or agreement with gold.
    # Only the columns agreement and the paired comparison read: copying every column of a million
    # rows costs more than their counting.
    paired_columns = [ITEM_KEY, "item_id", "policy", "reviewer", "gold", "decision", "text", "rationale", "rule_ids",
                      COUNT, *slices]
    known = per_item.loc[per_item["gold"] != UNKNOWN, [c for c in dict.fromkeys(paired_columns) if c in per_item]]
    repeated = per_item is not verdicts
    by_policy: dict[str, dict[str, ReviewerMetrics]] = {}
    for (policy, reviewer), frame in per_item.groupby(["policy", "reviewer"], sort=False):
        entry = reviewer_metrics(frame, categories=categories, slices=slices, gates=gates)
        own = verdicts[(verdicts["policy"] == policy) & (verdicts["reviewer"] == reviewer)] if repeated else frame
        entry.stability = stability(own)
        entry.answers = answer_breakdown(own)
        if is_weighted(frame, strata, prevalence):
            entry.weighted = weighted_metrics(frame, categories=categories, strata=strata, prevalence=prevalence)
        entry.thresholds = threshold_analysis(frame[frame["gold"] != UNKNOWN], gates)
        structure, asked = (rationale or {}).get(str(policy), (None, frozenset()))
        if structure is not None and reviewer in asked:
            entry.rationale = rationale_consistency(own, structure)
            entry.gates = [*entry.gates, *rationale_gates(gates, entry.rationale)]
        entry.calibration = calibration(frame[frame["gold"] != UNKNOWN]) if entry.thresholds else None
        by_policy.setdefault(str(policy), {})[str(reviewer)] = entry
    reviewers = by_policy.get(candidate, {})
    comparison: dict[str, PairedComparison] = {}
    if baseline:
        for reviewer in reviewers:
            before = known[(known["policy"] == baseline) & (known["reviewer"] == reviewer)]
            after = known[(known["policy"] == candidate) & (known["reviewer"] == reviewer)]
            if len(before) and len(after):
                comparison[reviewer] = paired_comparison(before, after, slices)
    # Every block comes typed from its function, NaN already null (`finite_or_none`, `wilson`): the
    # flips (a record per changed item, 100,000 at scale) are validated once, in `paired_comparison`,
    # and `Metrics` takes the models as they are (pydantic does not revalidate model instances).
    return Metrics(
        policy=candidate,
        reviewers=reviewers,
        baseline=Baseline(policy=baseline, reviewers=by_policy.get(baseline, {})) if baseline else None,
        comparison=comparison,
        relabel_candidates=relabel_candidates(per_item, candidate),
        agreement={str(policy): agreement(frame) for policy, frame in known.groupby("policy", sort=False)},
        annotators=annotator_metrics(annotations.for_items(verdicts["item_id"])) if annotations is not None else None,
        errors=candidate_errors(verdicts, per_item, name=name, candidate=candidate, slices=slices),
    )

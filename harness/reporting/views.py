"""The report's view model: plain data built once from a run record, shared by HTML and Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.config import UNKNOWN

from harness.metrics.samples import majority
from harness.record import RunRecord
from harness.reporting import analysis, charts
from harness.reporting.analysis import Agreement, Confusion
from harness.reporting.comparison import ComparisonView, DiffRow, comparisons, policy_diff, unified_diff
from harness.reporting.exemplars import Exemplar, ExemplarGroup, exemplar_groups, gold_disputes
from harness.reporting.fmt import number, percent, short
from harness.reporting.provenance import Provenance, provenance
from harness.reporting.tables import (BreakdownRow, BreakdownTable, HeadlineRow, LaunchVerdict, category_table,
                                      headline_rows, launch_verdicts, slice_tables, worst_slices)

TABLE_CAP = 40
WORST_LIMIT = 8


@dataclass(frozen=True)
class Chart:
    title: str
    alt: str
    uri: str


@dataclass
class ReportView:
    title: str
    name: str
    candidate: str
    baseline: str | None
    evalset_name: str
    items: int
    created_at: str
    incomplete: bool
    incomplete_reason: str
    verdicts: list[LaunchVerdict]
    headline: list[HeadlineRow]
    comparisons: list[ComparisonView]
    diff: list[DiffRow]
    unified_diff: str
    categories: list[BreakdownTable]
    slices: list[BreakdownTable]
    worst: dict[str, list[tuple[str, BreakdownRow]]]
    confusions: list[Confusion]
    agreement: Agreement | None
    exemplars: list[ExemplarGroup]
    disputes: list[Exemplar]
    disputes_total: int
    contested: int
    stability: list[tuple[str, str]]
    provenance: Provenance
    charts: list[Chart] = field(default_factory=list)
    confusion_charts: dict[str, str] = field(default_factory=dict)


def build_view(record: RunRecord, *, with_charts: bool = True) -> ReportView:
    metrics = record.metrics or {}
    reviewers: dict[str, Any] = metrics.get("reviewers") or {}
    names = list(reviewers)
    baseline = metrics.get("baseline") or {}
    slices = [str(s) for s in record.evalset.get("slices") or []]
    per_item = _candidate_items(record)
    candidate = record.policies.get(record.candidate, {})
    rules = {str(r["id"]): str(r.get("text", "")) for r in candidate.get("rules") or []}
    category_names = {str(c["id"]): str(c.get("name", "")) for c in candidate.get("categories") or []}

    slice_views = [t for name, m in reviewers.items() for t in slice_tables(name, m, TABLE_CAP)]
    view = ReportView(
        title=f"Policy test: {short(record.name, 120)}", name=short(record.name, 120),
        candidate=short(record.candidate, 80), baseline=short(record.baseline, 80) if record.baseline else None,
        evalset_name=short(record.evalset.get("name", ""), 80), items=int(record.evalset.get("items") or 0),
        created_at=str(record.created_at), incomplete=bool(record.incomplete),
        incomplete_reason=str(record.incomplete_reason or "the run stopped before every item was judged"),
        verdicts=launch_verdicts(reviewers),
        headline=headline_rows(record.candidate, "candidate", reviewers)
        + headline_rows(str(baseline.get("policy") or record.baseline), "baseline", baseline.get("reviewers") or {}),
        comparisons=comparisons(metrics, slices),
        diff=[], unified_diff="",
        categories=[category_table(name, m, category_names) for name, m in reviewers.items() if m.get("categories")],
        slices=slice_views,
        worst={name: worst_slices([t for t in slice_views if t.reviewer == name], WORST_LIMIT) for name in names},
        confusions=analysis.confusions(per_item, names),
        agreement=analysis.agreement(per_item, names),
        exemplars=exemplar_groups(per_item, names, slices, rules),
        disputes=[], disputes_total=0,
        contested=int(record.items["contested"].fillna(False).astype(bool).sum())
        if "contested" in record.items else 0,
        stability=_stability(reviewers),
        provenance=provenance(record),
    )
    view.disputes, view.disputes_total = gold_disputes(per_item, names, slices)
    if record.baseline and record.baseline in record.policies and record.baseline != record.candidate:
        old, new = str(record.policies[record.baseline].get("text", "")), str(candidate.get("text", ""))
        if old != new:
            view.diff = policy_diff(old, new)
            view.unified_diff = unified_diff(old, new, record.baseline, record.candidate)
    if with_charts:
        _add_charts(view, per_item, reviewers)
    return view


def _candidate_items(record: RunRecord) -> pd.DataFrame:
    """One row per item x reviewer under the candidate policy: the majority over samples, as metrics use."""
    verdicts = record.verdicts
    if verdicts is None or verdicts.empty or "policy" not in verdicts:
        return pd.DataFrame(columns=["reviewer", "item_id", "decision", "gold", "score", "confidence"])
    # Items whose gold is unknown inform no error count, curve or exemplar.
    known = verdicts[(verdicts["policy"] == record.candidate) & (verdicts["gold"] != UNKNOWN)]
    return majority(known.reset_index(drop=True))


def _stability(reviewers: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, m in reviewers.items():
        s = m.get("stability")
        if s:
            out.append((name, f"{s.get('samples')} samples per item; mean agreement with the majority "
                              f"{percent(number(s.get('mean_agreement')))}; {s.get('unstable_items', 0)} items "
                              f"({percent(number(s.get('unstable_share')))}) changed decision between samples"))
    return out


def _add_charts(view: ReportView, per_item: pd.DataFrame, reviewers: dict[str, Any]) -> None:
    for table in view.slices:
        uri = charts.slice_chart(table)
        if uri:
            table.chart = uri
            table.chart_alt = (f"{table.title}: over-enforcement and leakage with 95% intervals for the "
                               f"{min(len(table.rows), charts.CHART_CAP)} worst values")
    for confusion in view.confusions:
        view.confusion_charts[confusion.reviewer] = charts.confusion_chart(confusion)
    points = {name: (m["over_enforcement"]["rate"], m["leakage"]["rate"]) for name, m in reviewers.items()
              if number((m.get("over_enforcement") or {}).get("rate")) is not None
              and number((m.get("leakage") or {}).get("rate")) is not None}
    uri = charts.curve_chart(analysis.curves(per_item, list(reviewers)), points)
    if uri:
        view.charts.append(Chart("Over-enforcement vs leakage", "Over-enforcement against leakage for every "
                                 "score threshold; dots mark the current operating points", uri))
    if view.agreement:
        view.charts.append(Chart("Reviewer agreement", "Cohen's kappa between reviewers and gold",
                                 charts.agreement_chart(view.agreement)))

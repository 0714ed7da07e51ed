"""The report's view model: plain data built once from a run record, shared by HTML and Markdown.\nIt only reads the record: everything counted was counted in the metrics stage."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TypeVar

from harness.record import ReviewerMetrics, RunRecord
from harness.reporting import analysis, charts
from harness.reporting.agreement import AgreementView, agreement_view
from harness.reporting.analysis import Confusion
from harness.reporting.annotators import AnnotatorsView, annotators_view
from harness.reporting.baseline import ComparisonView, DiffRow, comparisons, interval_method, policy_diff, unified_diff
from harness.reporting.consistency import ConsistencyView, consistency_views
from harness.reporting.diagnosis import DiagnosisView, diagnosis_view
from harness.reporting.drift import DriftView, drift_views
from harness.reporting.exemplars import ExemplarGroup, exemplar_groups
from harness.reporting.explanations import ExplanationView, explained_items, explanation_views
from harness.reporting.fmt import number, percent, short
from harness.reporting.gold import GoldView, gold_view
from harness.reporting.injection import InjectionView, injection_views
from harness.reporting.legacy import candidate_errors
from harness.reporting.localization import LanguageView, language_views
from harness.reporting.localized_policy import LocalizedView, localized_view
from harness.reporting.population import PopulationView, population_views
from harness.reporting.provenance import Provenance, provenance
from harness.reporting.rationale import RationaleView, rationale_views
from harness.reporting.scores import ScoreView, score_views
from harness.reporting.tables import (
    BreakdownRow,
    BreakdownTable,
    HeadlineRow,
    LaunchVerdict,
    category_table,
    headline_rows,
    launch_verdicts,
    slice_tables,
    worst_slices,
)
from harness.reporting.thresholds import ThresholdView, threshold_views
from harness.verdicts import AbstainKind

_Row = TypeVar("_Row", HeadlineRow, LaunchVerdict)
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
    population: list[PopulationView]
    comparisons: list[ComparisonView]
    comparison_method: str
    diff: list[DiffRow]
    unified_diff: str
    categories: list[BreakdownTable]
    slices: list[BreakdownTable]
    worst: dict[str, list[tuple[str, BreakdownRow]]]
    languages: list[LanguageView]
    confusions: list[Confusion]
    agreement: AgreementView | None
    gold: GoldView
    thresholds: list[ThresholdView]
    injection: list[InjectionView]
    exemplars: list[ExemplarGroup]
    stability: list[tuple[str, str]]
    answers: list[tuple[str, str]]
    provenance: Provenance
    curve_chart: Chart | None = None
    agreement_chart: Chart | None = None
    confusion_charts: dict[str, str] = field(default_factory=dict)
    diagnosis: DiagnosisView | None = None
    annotators: AnnotatorsView | None = None
    consistency: list[ConsistencyView] = field(default_factory=list)
    localized: LocalizedView | None = None
    rationale: list[RationaleView] = field(default_factory=list)
    drift: list[DriftView] = field(default_factory=list)
    scores: list[ScoreView] = field(default_factory=list)
    explanations: list[ExplanationView] = field(default_factory=list)  # explanations.json (explain)
    explained: dict[str, ExplanationView] = field(default_factory=dict)  # the candidate's, by "reviewer|item id"


def build_view(record: RunRecord, *, with_charts: bool = True) -> ReportView:
    metrics = record.metrics
    reviewers = metrics.reviewers
    names = list(reviewers)
    baseline = metrics.baseline
    slices = list(record.evalset.slices)
    errors = candidate_errors(record)
    candidate = record.policies.get(record.candidate)
    rules = {r.id: r.text for r in candidate.rules} if candidate else {}
    category_names = {c.id: c.name for c in candidate.categories} if candidate else {}

    # The localization view replaces the plain slice table of the language column.
    slice_views = [t for name, m in reviewers.items()
                   for t in slice_tables(name, m, TABLE_CAP, m.languages.column if m.languages else None)]
    comparison_views = comparisons(metrics, slices)
    view = ReportView(
        title=f"Policy test: {short(record.name, 120)}", name=short(record.name, 120),
        candidate=short(record.candidate, 80), baseline=short(record.baseline, 80) if record.baseline else None,
        evalset_name=short(record.evalset.name, 80), items=record.evalset.items,
        created_at=str(record.created_at), incomplete=bool(record.incomplete),
        incomplete_reason=str(record.incomplete_reason or "the run stopped before every item was judged"),
        verdicts=_mark_sampled(record, launch_verdicts(reviewers)),
        headline=_mark_sampled(record, _mark_policy_independent(
            record, headline_rows(record.candidate, "candidate", reviewers))
            + (headline_rows(baseline.policy, "baseline", baseline.reviewers) if baseline else [])),
        population=population_views(reviewers),
        comparisons=comparison_views, comparison_method=interval_method(comparison_views),
        diff=[], unified_diff="",
        categories=[category_table(name, m, category_names) for name, m in reviewers.items() if m.categories],
        slices=slice_views,
        worst={name: worst_slices([t for t in slice_views if t.reviewer == name], WORST_LIMIT) for name in names},
        languages=language_views(reviewers),
        confusions=analysis.confusions(errors, names),
        agreement=agreement_view(metrics, record.candidate),
        gold=gold_view(metrics, record.candidate, record.items, slices),
        annotators=annotators_view(metrics),
        thresholds=threshold_views(reviewers),
        injection=injection_views(metrics, record.items),
        exemplars=exemplar_groups(errors, rules),
        stability=_stability(reviewers),
        answers=_answers(record, reviewers),
        provenance=provenance(record),
        consistency=consistency_views(reviewers),
        localized=localized_view(metrics.localized, metrics.translations_used),
        rationale=rationale_views(reviewers),
        drift=drift_views(metrics),
    )
    if record.baseline and record.baseline in record.policies and record.baseline != record.candidate:
        old, new = record.policies[record.baseline].text, candidate.text if candidate else ""
        if old != new:
            view.diff = policy_diff(old, new)
            view.unified_diff = unified_diff(old, new, record.baseline, record.candidate)
    view.diagnosis = diagnosis_view(errors.diagnosis, record.candidate,
                                    at_report_time=record.metrics.errors is None)
    view.scores = score_views(reviewers, with_charts=with_charts)
    view.explanations = explanation_views(record.explanations)
    view.explained = explained_items(record.explanations, view.explanations, record.candidate)
    if with_charts:
        _add_charts(view)
    return view


def _mark_policy_independent(record: RunRecord, rows: list[HeadlineRow]) -> list[HeadlineRow]:
    """A reviewer judged once because it does not read the policy text stands for both versions."""
    return [dataclasses.replace(row, note=f"independent of the policy text: the same verdicts under "
                                          f"{short(record.baseline or '', 80)}") if record.judged_once(row.reviewer) else row
            for row in rows]


def _mark_sampled(record: RunRecord, rows: list[_Row]) -> list[_Row]:
    """A reviewer that judged a seeded sample says so wherever its figures are shown."""
    out = []
    for row in rows:
        sample = record.sample(row.reviewer)
        if sample is None:
            out.append(row)
            continue
        note = f"judged {sample.label}" + (f" ({sample.detail})" if isinstance(row, LaunchVerdict) else "")
        out.append(dataclasses.replace(row, note=f"{row.note}; {note}" if row.note else note))
    return out


def _stability(reviewers: dict[str, ReviewerMetrics]) -> list[tuple[str, str]]:
    out = []
    for name, m in reviewers.items():
        s = m.stability
        if s:
            out.append((name, f"{s.samples} samples per item; mean agreement with the majority "
                              f"{percent(number(s.mean_agreement))}; {s.unstable_items} items "
                              f"({percent(number(s.unstable_share))}) changed decision between samples"))
    return out


def _answers(record: RunRecord, reviewers: dict[str, ReviewerMetrics]) -> list[tuple[str, str]]:
    """Parse rate of each LLM reviewer (a classifier always answers)."""
    out = []
    for name, m in reviewers.items():
        params = record.reviewers.get(name)
        a = m.answers
        if a is None or params is None or params.type != "llm":
            continue
        kinds = "; ".join(f"{count} {short(_kind_label(kind), 60)}"
                          for kind, count in a.abstentions.items()) or "no abstentions"
        rate = a.parse_rate
        parsed = (f"{percent(rate.rate)} [{percent(rate.ci_low)}, {percent(rate.ci_high)}] ({rate.k:,} of the "
                  f"{a.returned:,} answers returned) parsed as a verdict" if rate.rate is not None
                  else "no answer was returned")
        out.append((name, f"{parsed}; abstentions: {kinds}"))
    return out


def _kind_label(kind: str) -> str:
    """An abstention kind as the report names it; metrics.json written before the kinds were codes
    holds the label itself."""
    return AbstainKind(kind).label if kind in {k.value for k in AbstainKind} else kind


def _add_charts(view: ReportView) -> None:
    for table in view.slices:
        uri = charts.slice_chart(table)
        if uri:
            table.chart = uri
            table.chart_alt = (f"{table.title}: over-enforcement and leakage with 95% intervals for the "
                               f"{min(len(table.rows), charts.CHART_CAP)} worst values")
    for lang in view.languages:
        worse = {r.label for r in lang.rows if r.worse}
        lang.chart = charts.rates_chart(f"{lang.reviewer}: by {lang.column}", lang.rows, worse, width=5.4)
        lang.chart_alt = (f"{lang.reviewer}: over-enforcement and leakage per {lang.column} with 95% intervals"
                          + ("; languages flagged for a higher rate in red" if worse else ""))
    for confusion in view.confusions:
        view.confusion_charts[confusion.reviewer] = charts.confusion_chart(confusion)
    uri = charts.curve_chart([t.curve for t in view.thresholds if t.curve])
    if uri:
        view.curve_chart = Chart("Over-enforcement vs leakage", "Over-enforcement against leakage for every "
                                 "score threshold; dots mark the current operating points, crosses the "
                                 "thresholds that meet each gate", uri)
    if view.agreement and (uri := charts.kappa_chart(view.agreement.rows)):
        view.agreement_chart = Chart("Agreement", "Cohen's kappa of each reviewer with gold and between "
                                     "reviewers", uri)

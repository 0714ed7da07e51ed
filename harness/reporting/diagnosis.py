"""The launch report's failure clusters: the largest clusters of each error kind per reviewer under
the candidate policy, as the record holds them (counted in the metrics stage, or stored by
`policy-harness diagnose` with the author's descriptions)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.diagnosis import Cluster, Diagnosis, ErrorKindDiagnosis
from harness.reporting.fmt import percent, short
from harness.reporting.mdcells import cell, header, row

SHOWN_PER_GROUPING = 2  # per error kind: the largest rule, slice and text clusters
OVER_SHOWN = 3
KIND_NAMES = {"over_enforcement": "over-enforcement", "leakage": "leakage"}
AT_REPORT_TIME = "computed from the run when this report was written"
GROUPING_NAMES = {"rule": "cited rule", "slice": "slice", "text": "similar text"}


@dataclass(frozen=True)
class ClusterRow:
    grouping: str
    key: str
    size: int
    share: str
    rate: str  # slice clusters: the error rate within the slice
    terms: str
    over_represented: list[str]  # "tactic=counter (×8.2)"
    exemplars: list[str]
    description: str


@dataclass(frozen=True)
class DiagnosisBlock:
    reviewer: str
    kind: str
    errors: int
    decided: int
    clusters: list[ClusterRow]


@dataclass(frozen=True)
class DiagnosisView:
    source: str  # where the clusters come from, said in the report
    blocks: list[DiagnosisBlock]
    described: bool


def diagnosis_view(diagnosis: Diagnosis | None, candidate: str, *,
                   at_report_time: bool = False) -> DiagnosisView | None:
    """The candidate's clusters of the record (`metrics.errors.diagnosis`); `at_report_time` for an
    older record's, which the report counted itself (reporting/legacy.py)."""
    if diagnosis is None:
        return None
    blocks = [_block(group.reviewer, kind) for group in diagnosis.groups if group.policy == candidate
              for kind in group.kinds]
    described = any(c.description for b in blocks for c in b.clusters)
    said = AT_REPORT_TIME if at_report_time and not diagnosis.author_model else source(diagnosis)
    return DiagnosisView(source=said, blocks=blocks, described=described) if blocks else None


def source(diagnosis: Diagnosis) -> str:
    """Where the clusters come from, as the report says it."""
    if diagnosis.author_model:
        return "from policy-harness diagnose, described by the author model"
    return "computed from the verdicts when the run was scored"


def _block(reviewer: str, kind: ErrorKindDiagnosis) -> DiagnosisBlock:
    clusters = [_row(c) for group in (kind.by_rule, kind.by_slice, kind.by_text)
                for c in group[:SHOWN_PER_GROUPING]]
    return DiagnosisBlock(reviewer=short(reviewer, 80), kind=KIND_NAMES[kind.kind], errors=kind.errors,
                          decided=kind.decided, clusters=clusters)


def _row(c: Cluster) -> ClusterRow:
    over = [f"{short(o.value, 60)} (×{o.lift:.1f})" for o in c.over_represented[:OVER_SHOWN]]
    return ClusterRow(grouping=GROUPING_NAMES[c.by], key=short(c.key, 80), size=c.size, share=percent(c.share),
                      rate=percent(c.rate) if c.rate is not None else "", terms=short(", ".join(c.top_terms[:3]), 80),
                      over_represented=over, exemplars=[short(e, 40) for e in c.exemplars],
                      description=short(c.description or "", 300))


def diagnosis_markdown(view: DiagnosisView | None) -> list[str]:
    if view is None:
        return []
    lines = ["## Failure clusters", "", f"The largest clusters of each error kind under the candidate policy, "
             f"{view.source}. Top terms and exemplar texts are in report.html behind a content warning.", ""]
    for block in view.blocks:
        if not block.errors:
            lines += [f"**{cell(block.reviewer)}, {block.kind}**: no errors of {block.decided} decided.", ""]
            continue
        lines += [f"**{cell(block.reviewer)}, {block.kind}**: {block.errors} errors of {block.decided} decided.", "",
                  *header("grouped by", "cluster", "errors", "share", "over-represented", "exemplars",
                          *(["description"] if view.described else []))]
        for c in block.clusters:  # top terms are eval content: only report.html shows them, behind the warning
            lines.append(row(c.grouping, c.key, c.size, c.share, ", ".join(c.over_represented) or "–",
                             ", ".join(c.exemplars), *([c.description or "–"] if view.described else [])))
        lines.append("")
    return lines

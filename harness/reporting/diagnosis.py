"""The launch report's failure clusters: the largest clusters of each error kind per reviewer under
the candidate policy, read from the run's diagnosis.json when `diagnose` wrote one for this run
(with the author's descriptions), else computed from the run at report time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from harness.record.diagnosis import DIAGNOSIS, Cluster, Diagnosis, ErrorKindDiagnosis
from harness.record import RunRecord
from harness.reporting.fmt import percent, short
from harness.reporting.mdcells import cell, header, row

log = logging.getLogger(__name__)

SHOWN_PER_GROUPING = 2  # per error kind: the largest rule, slice and text clusters
OVER_SHOWN = 3
MAX_ROWS_AT_REPORT_TIME = 5_000  # beyond this, text clustering at report time costs more than a report should
NEEDED_COLUMNS = {"policy", "reviewer", "item_id", "decision", "gold", "rule_ids", "text"}
KIND_NAMES = {"over_enforcement": "over-enforcement", "leakage": "leakage"}
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


def diagnosis_view(record: RunRecord) -> DiagnosisView | None:
    diagnosis, source = _stored(record)
    if diagnosis is None:
        diagnosis, source = _computed(record)
    if diagnosis is None:
        return None
    blocks = [_block(group.reviewer, kind) for group in diagnosis.groups if group.policy == record.candidate
              for kind in group.kinds]
    described = any(c.description for b in blocks for c in b.clusters)
    return DiagnosisView(source=source, blocks=blocks, described=described) if blocks else None


def _stored(record: RunRecord) -> tuple[Diagnosis | None, str]:
    """diagnosis.json beside the record, when it was written for this run."""
    if not record.out_dir:
        return None, ""
    path = Path(record.out_dir) / DIAGNOSIS
    if not path.is_file():
        return None, ""
    try:
        diagnosis = Diagnosis.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as err:
        log.warning("%s cannot be read (%s); the report computes the failure clusters itself", path,
                    str(err).splitlines()[0][:200])
        return None, ""
    if diagnosis.run != record.name or diagnosis.candidate != record.candidate:
        return None, ""
    return diagnosis, f"from {DIAGNOSIS} (written by policy-harness diagnose)"


def _computed(record: RunRecord) -> tuple[Diagnosis | None, str]:
    from harness.metrics.diagnosis import diagnose, run_view

    verdicts = record.verdicts
    if verdicts is None or verdicts.empty or not NEEDED_COLUMNS <= set(verdicts.columns):
        return None, ""
    candidate = verdicts[verdicts["policy"] == record.candidate]
    if len(candidate) > MAX_ROWS_AT_REPORT_TIME:
        return None, ""
    view = replace(run_view(record), verdicts=candidate.reset_index(drop=True), baseline=None)
    return diagnose(view), "computed from the run when this report was written"


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

"""Markdown sections of the stability checks (docs/stability.md): rationale consistency, drift canaries."""

from __future__ import annotations

from harness.reporting.mdcells import cell, header, rate, row
from harness.reporting.views import ReportView


def stability_markdown(v: ReportView) -> list[str]:
    """The rationale-consistency and drift sections of report.md; no lines when the run has neither."""
    lines: list[str] = []
    if v.rationale:
        lines += ["## Rationale consistency", "", "Each LLM verdict's cited ids and rationale, checked against its "
                  "own decision and the policy; a verdict counts once however many checks it fails.", "",
                  *header("reviewer", "check", "share of decided verdicts", "first items")]
        for r in v.rationale:
            lines.append(row(r.reviewer, "**inconsistent (any check)**", rate(r.inconsistent), ""))
            lines += [row(r.reviewer, c.description, rate(c.rate), ", ".join(c.item_ids[:5])) for c in r.checks]
        lines.append("")
    if v.drift:
        lines += ["## Drift canaries", ""]
        lines += [f"- {'**WARNING** ' if d.status == 'drift' else ''}{cell(d.line)}" for d in v.drift]
        lines.append("")
    return lines

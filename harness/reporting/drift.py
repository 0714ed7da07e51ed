"""Drift canaries as the summary, report and portfolio show them: one line per LLM reviewer."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.drift import CanaryDrift, CanaryRun
from harness.record.metrics import Metrics
from harness.reporting.fmt import percent, short


@dataclass(frozen=True)
class DriftView:
    reviewer: str
    status: str  # none | drift | no_previous
    line: str
    flipped: list[str]


def drift_line(reviewer: str, d: CanaryDrift) -> str:
    """What one reviewer's canaries say; a line containing 'drift' when the verdicts changed beyond chance."""
    if d.status == "drift" and d.warning:
        return d.warning
    if d.status == "no_data":
        return f"canaries ({reviewer}): no canary was decided both in this run and in '{d.previous_run}'"
    if d.status == "no_previous":
        return (f"canaries ({reviewer}): {d.canaries} decided; no earlier run on the same canaries and policy "
                "version to compare with")
    return (f"canaries ({reviewer}): {d.canaries} decided; agreement {percent(d.agreement)} with run '{d.previous_run}' "
            f"of {d.previous_created_at} "
            f"({d.newly_actioned} newly actioned, {d.newly_allowed} newly allowed, exact McNemar p = "
            f"{d.p_value:.3g}): no drift" if d.p_value is not None else f"canaries ({reviewer}): no drift")


def drift_lines(metrics: Metrics) -> list[str]:
    """Summary lines, indented like the others; drift first, as a warning."""
    blocks = metrics.drift or {}
    return [("  WARNING " if d.status == "drift" else "  ") + drift_line(name, d)
            for name, d in sorted(blocks.items(), key=lambda kv: kv[1].status != "drift")]


def drift_views(metrics: Metrics) -> list[DriftView]:
    return [DriftView(reviewer=short(name, 80), status=d.status, line=drift_line(name, d),
                      flipped=[short(i, 40) for i in d.flipped_item_ids[:50]])
            for name, d in (metrics.drift or {}).items()]


def history_lines(reviewer: str, runs: list[CanaryRun]) -> list[str]:
    """`runs --drift --reviewer NAME`: one line per run, oldest first, with its agreement with the run before."""
    if not runs:
        return [f"no canary runs of reviewer '{reviewer}' in the canary history; name 'canaries:' in its experiment"]
    lines = [f"{'created':<25} {'run':<24} {'policy':<20} {'model':<24} {'canaries':>8} {'accuracy':>8} "
             f"{'agreement':>9} {'flips':>5} {'p':>7}  status"]
    for r in runs:
        d = r.drift
        p = f"{d.p_value:.3g}" if d.p_value is not None else "-"
        lines.append(f"{r.created_at:<25} {short(r.run, 24):<24} {short(r.policy, 20):<20} {short(r.model, 24):<24} "
                     f"{d.canaries:>8} {percent(d.accuracy):>8} {percent(d.agreement) if d.paired else '-':>9} "
                     f"{len(d.flipped_item_ids):>5} {p:>7}  {d.status}")
    return lines

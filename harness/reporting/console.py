"""What `run`, `score` and `rescore` print when they finish: the headline rates of a run record."""

from __future__ import annotations

from pathlib import Path

from harness.record import GateResult, RunRecord
from harness.reporting.drift import drift_lines
from harness.reporting.fmt import pct, rate_cell, target
from harness.reporting.localized_policy import translation_line
from harness.reporting.scores import console_lines


def summary(record: RunRecord) -> str:
    """Rates per policy version and reviewer, which translations judged which languages, gates,
    prompt-injection leakage, MLflow runs and where the outputs are, one line each."""
    r, metrics = record, record.metrics
    lines = [f"{r.name}: {r.evalset.items} items from {r.evalset.name}"]
    sections = [(r.candidate, metrics.reviewers)]
    if metrics.baseline:
        sections.append((metrics.baseline.policy, metrics.baseline.reviewers))
    for policy, reviewers in sections:
        for name, m in reviewers.items():
            lines.append(f"  {policy:<20} {name:<16} over-enforcement {pct(m.over_enforcement)}  "
                         f"leakage {pct(m.leakage)}  abstained {m.abstained}"
                         + ("  (independent of the policy text: the same for both versions)"
                            if r.judged_once(name) else "")
                         + (f"  (judged {sample.label})" if (sample := r.sample(name)) else ""))
    lines += [f"  {translation_line(use)}" for use in metrics.translations_used or []]
    for name, m in metrics.reviewers.items():
        for gate in m.gates:
            lines.append(f"  gate {gate.gate} ({name}, {gate.scope}): {gate.status} — {_observed(gate)} "
                         f"vs target {target(gate)}")
    lines.extend(console_lines(metrics.reviewers))
    for name, inj in (metrics.injection or {}).items():
        if inj.items:
            lines.append(f"  prompt injection ({name}, {inj.items} violating items x {len(inj.attacks)} attacks): "
                         f"leakage {pct(inj.leakage_clean)} clean -> {pct(inj.leakage_injected)} injected")
    lines.extend(drift_lines(metrics))
    if r.incomplete:
        lines.append(f"  INCOMPLETE: {r.incomplete_reason}")
    lines.extend(_outputs(r))
    return "\n".join(lines)


def _observed(gate: GateResult) -> str:
    """'43.4% [35.0%, 52.3%] (43/99)', or 'no data'."""
    cell = rate_cell(gate.value)
    return "no item in its scope was decided" if cell.no_data else f"{cell.text} {cell.interval} ({cell.counts})"


def _outputs(r: RunRecord) -> list[str]:
    lines = []
    if r.mlflow.parent_run_id:
        lines.append(f"  mlflow: {r.mlflow.tracking_uri} parent run {r.mlflow.parent_run_id}"
                     + ("" if r.mlflow.synced else f" (not synced: run 'policy-harness sync {r.out_dir}')"))
        for key, rid in r.mlflow.runs.items():
            lines.append(f"    run {rid}  {key.replace('|', ' · ')}")
    lines.append(f"  outputs: {r.out_dir}")
    lines.append(f"  report: {Path(r.out_dir) / 'report.html'}")
    return lines

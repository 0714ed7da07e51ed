"""The lines commands print about what they did (a run's own summary is `reporting.console`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from harness.loop.promote import Promotion
    from harness.record import ComparisonResult
    from harness.record.revision import ReviseResult
    from harness.tracking.runs import GradingRow


def comparison_lines(result: ComparisonResult, out: Path) -> str:
    """`compare`: the change in each reviewer's rates, flips, and where the comparison was written."""
    from harness.reporting.compare import change_text, coverage_warnings
    from harness.reporting.fmt import counted

    lines = [f"{result.a.label} -> {result.b.label}"]
    lines += [f"  note: {note}" for note in coverage_warnings(result)]
    for reviewer, r in result.reviewers.items():
        lines.append(f"  {reviewer}: over-enforcement {change_text(r.over_enforcement_change)}")
        lines.append(f"  {reviewer}: leakage {change_text(r.leakage_change)}")
        lines.append(f"  {reviewer}: {counted(len(r.flips), 'flipped verdict')}, fixed {r.fixed.total}, broken {r.broken.total}")
    lines.append(f"  compare.json: {out / 'compare.json'}")
    lines.append(f"  compare.html: {out / 'compare.html'}")
    return "\n".join(lines)


RUN_ID, STARTED = 32, 16  # an MLflow run id; 'YYYY-MM-DDTHH:MM'


def runs_header() -> str:
    """`runs`: the header row above the run lines."""
    return (f"{'run id':<{RUN_ID}}  {'started':<{STARTED}}  {'policy':<18} {'role':<9} {'reviewer':<14} "
            f"{'eval set':<14} {'kind':<10} rates [95% interval]")


def run_line(run: dict[str, Any]) -> str:
    """`runs`: one MLflow run with its rates and their intervals; a `rescore` says what it rescored."""
    m = run["metrics"]
    source = run.get("rescored_from")
    kind = "rescore" if source else "run"
    notes = ([f"rescore of {source}"] if source else []) + ([f"judged {run['sample']}"] if run.get("sample") else [])
    return (f"{run['run_id']:<{RUN_ID}}  {run['started']:<{STARTED}}  {run['policy']:<18} {run['role']:<9} "
            f"{run['reviewer']:<14} {run['eval_set']:<14} {kind:<10} over-enforcement {_pct(m.get('over_enforcement'))} "
            f"[{_pct(m.get('over_enforcement_ci_low'))}, {_pct(m.get('over_enforcement_ci_high'))}]  "
            f"leakage {_pct(m.get('leakage'))} [{_pct(m.get('leakage_ci_low'))}, {_pct(m.get('leakage_ci_high'))}]"
            + "".join(f"  ({note})" for note in notes))


def gradings_header() -> str:
    """`runs --proficiency`: the header row above the grading lines."""
    return f"{'run id':<{RUN_ID}}  {'started':<{STARTED}}  {'policy':<18} {'reviewer':<16} accuracy [95% interval]  status"


def grading_line(g: GradingRow) -> str:
    """`runs --proficiency`: one reviewer's accuracy in one grading."""
    return (f"{g.run_id:<{RUN_ID}}  {g.started:<{STARTED}}  {g.policy:<18} {g.reviewer:<16} accuracy {_pct(g.accuracy)} "
            f"[{_pct(g.accuracy_ci_low)}, {_pct(g.accuracy_ci_high)}]  {g.status}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def revise_lines(result: ReviseResult) -> str:
    """`revise`: the candidates and where the result was written."""
    lines = [f"{result.experiment}: {len(result.candidates)} candidates for {result.policy}, target {result.target}; "
             f"{len(result.split.dev)} dev / {len(result.split.holdout)} held-out items"]
    lines += [f"  candidate {c.index} ({c.file or 'no file'}): {c.why}" for c in result.candidates]
    lines.append(f"  revise.json: {Path(result.out_dir) / 'revise.json'}")
    lines.append(f"  revise.html: {Path(result.out_dir) / 'revise.html'}")
    return "\n".join(lines)


def promotion_lines(done: Promotion) -> str:
    """`promote`: what was copied where, by whom, and what the registry was told."""
    forced = " (forced: revise did not accept it)" if done.forced else ""
    lines = [f"promoted {done.source} -> {done.target}, approved by {done.by} at {done.at}{forced}"]
    if done.renumbered_from is not None:
        lines.append(f"  version set to {done.version} (the candidate declared {done.renumbered_from}; recorded as "
                     "renumbered_from)")
    if done.registry_uri:
        lines.append(f"  registry: {done.registry_uri} tagged status=approved")
    return "\n".join(lines)


def workspace_lines(target: Path, written: list[Path], experiment: Path) -> str:
    """`init`: the files written and the two commands to try next."""
    lines = [f"wrote {len(written)} files to {target}:"]
    lines += [f"  {path.relative_to(target)}" for path in written]
    lines.append(f"next: policy-harness validate {experiment}\n      policy-harness run {experiment}")
    return "\n".join(lines)


def generated_line(table: pd.DataFrame, out: Path) -> str:
    """`generate`: how many items of each label, functionality and target were written."""
    labels = ", ".join(f"{label}: {n}" for label, n in table["label"].value_counts().sort_index().items())
    return (f"wrote {len(table)} items ({table['functionality'].nunique()} functionalities, "
            f"{table.loc[table['target'] != 'none', 'target'].nunique()} targets; {labels}) to {out}")

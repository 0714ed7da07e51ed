"""The page of `policy-harness compare`: two stored runs, item by item."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record import ComparedRun, ComparisonResult, GateResult, PairedChange
from harness.record.metrics import Flip
from harness.reporting.fmt import RateCell, counted, rate_cell, short, target
from harness.reporting.pages import render
from harness.reporting.tables import STATUS_CSS

MAX_FLIPS = 500
CELL_CHARS = 2000


@dataclass(frozen=True)
class GateCell:
    status: str
    css: str
    value: RateCell | None


@dataclass(frozen=True)
class GateChange:
    """One gate of a reviewer, in run A and in run B."""

    gate: str
    scope: str
    target: str
    a: GateCell | None
    b: GateCell | None


@dataclass(frozen=True)
class ReviewerView:
    name: str
    changes: list[tuple[str, str]]
    fixed: int
    broken: int
    mcnemar: str
    rows: list[tuple[str, ...]]
    more: int  # flips beyond the ones shown
    flips: int
    gates: list[GateChange]
    policy_independent: bool  # it does not read the policy text: a new version cannot change its verdicts


@dataclass(frozen=True)
class RunView:
    role: str
    label: str
    source: str
    run_id: str
    policy: str
    created_at: str


def render_comparison_html(result: ComparisonResult) -> str:
    """compare.html: the page renders compare.json's fields, escaped by the report's environment."""
    reviewers = [ReviewerView(
        name=name,
        changes=[("over-enforcement", change_text(r.over_enforcement_change)),
                 ("leakage", change_text(r.leakage_change))],
        fixed=r.fixed.total, broken=r.broken.total, mcnemar=f"{r.accuracy_mcnemar_p:.3g}",
        rows=[_cells(flip) for flip in r.flips[:MAX_FLIPS]], more=max(0, len(r.flips) - MAX_FLIPS),
        flips=len(r.flips), gates=gate_changes(r.gates_a, r.gates_b), policy_independent=r.reads_policy is False)
        for name, r in result.reviewers.items()]
    runs = [_run_view("A", result.a), _run_view("B", result.b)]
    return render("compare.html.j2", c=result, notes=coverage_warnings(result), reviewers=reviewers, runs=runs)


def _run_view(role: str, run: ComparedRun) -> RunView:
    return RunView(role=role, label=short(run.label, 120), source=short(run.source, 200),
                   run_id=run.run_id or "not tracked", policy=short(run.policy or "not recorded", 80),
                   created_at=run.created_at or "")


def gate_changes(before: list[GateResult] | None, after: list[GateResult] | None) -> list[GateChange]:
    """The gates of both runs side by side, matched by name and scope; empty when either run has none recorded."""
    if not before and not after:
        return []
    a = {(g.gate, g.scope): g for g in before or []}
    b = {(g.gate, g.scope): g for g in after or []}
    return [GateChange(gate=gate, scope=scope, target=target(b.get(key) or a[key]),
                       a=_gate_cell(a.get(key)), b=_gate_cell(b.get(key)))
            for key in dict.fromkeys([*a, *b]) for gate, scope in (key,)]


def _gate_cell(gate: GateResult | None) -> GateCell | None:
    if gate is None:
        return None
    return GateCell(status=gate.status, css=STATUS_CSS.get(gate.status, "nodata"), value=rate_cell(gate.value))


def _cells(flip: Flip) -> tuple[str, ...]:
    """The flip's row cells; a field the run lacked (no text column) is an empty cell."""
    return tuple("" if v is None else str(v)[:CELL_CHARS]
                 for v in (flip.item_id, flip.text, flip.gold, flip.decision_before, flip.decision_after))


def coverage_warnings(result: ComparisonResult) -> list[str]:
    notes = []
    for reviewer, r in result.reviewers.items():
        c = r.coverage
        if c.only_in_a or c.only_in_b:
            notes.append(f"{reviewer}: compared on the {counted(c.common, 'item')} both runs judged "
                         f"({c.only_in_a} only in A, {c.only_in_b} only in B)")
        if c.text_changed or c.gold_changed:
            notes.append(f"{reviewer}: {counted(c.text_changed, 'item')} changed text and {c.gold_changed} changed "
                         "gold label between the runs")
    return notes


def change_text(change: PairedChange) -> str:
    if change.change is None:
        return "no paired decided items"
    return (f"{change.before:.1%} → {change.after:.1%} ({change.change:+.1%}, 95% CI "
            f"[{change.ci_low:+.1%}, {change.ci_high:+.1%}], McNemar p = {change.p_value:.3g}, n = {change.n})")

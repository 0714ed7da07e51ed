"""The page of `policy-harness compare`: two stored runs, item by item."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record import ComparisonResult, PairedChange
from harness.record.metrics import Flip
from harness.reporting.fmt import counted
from harness.reporting.pages import render

MAX_FLIPS = 500
CELL_CHARS = 2000


@dataclass(frozen=True)
class ReviewerView:
    name: str
    changes: list[tuple[str, str]]
    fixed: int
    broken: int
    mcnemar: str
    rows: list[tuple[str, ...]]
    more: int  # flips beyond the ones shown


def render_comparison_html(result: ComparisonResult) -> str:
    """compare.html: the page renders compare.json's fields, escaped by the report's environment."""
    reviewers = [ReviewerView(
        name=name,
        changes=[("over enforcement change", change_text(r.over_enforcement_change)),
                 ("leakage change", change_text(r.leakage_change))],
        fixed=r.fixed.total, broken=r.broken.total, mcnemar=f"{r.accuracy_mcnemar_p:.3g}",
        rows=[_cells(flip) for flip in r.flips[:MAX_FLIPS]], more=max(0, len(r.flips) - MAX_FLIPS))
        for name, r in result.reviewers.items()]
    return render("compare.html.j2", c=result, notes=coverage_warnings(result), reviewers=reviewers)


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

"""The page of `policy-harness compare`: two stored runs, item by item."""

from __future__ import annotations

import html

from harness.record import ComparisonResult, PairedChange
from harness.record.metrics import Flip
from harness.reporting.fmt import counted


def render_comparison_html(result: ComparisonResult) -> str:
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
             "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>Comparison</title>"
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}"
             "td,th{border:1px solid #ccc;padding:4px 8px}table{border-collapse:collapse}</style></head><body>",
             f"<h1>{e(result.a.label)} → {e(result.b.label)}</h1>"]
    for note in coverage_warnings(result):
        parts.append(f"<p><b>Note:</b> {e(note)}</p>")
    for reviewer, r in result.reviewers.items():
        parts.append(f"<h2>{e(reviewer)}</h2><ul>")
        for name, change in (("over enforcement change", r.over_enforcement_change),
                             ("leakage change", r.leakage_change)):
            parts.append(f"<li>{e(name)}: {e(change_text(change))}</li>")
        parts.append(f"<li>fixed {r.fixed.total}, broken {r.broken.total}, "
                     f"McNemar exact p = {r.accuracy_mcnemar_p:.3g}</li></ul>")
        parts.append("<table><tr><th>item</th><th>text</th><th>gold</th><th>before</th><th>after</th></tr>")
        for flip in r.flips[:500]:
            parts.append("<tr>" + "".join(f"<td>{e(cell)[:2000]}</td>" for cell in _cells(flip)) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _cells(flip: Flip) -> tuple[str, ...]:
    """The flip's row cells; a field the run lacked (no text column) is an empty cell."""
    return tuple("" if v is None else str(v)
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

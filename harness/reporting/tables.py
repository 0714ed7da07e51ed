"""Table rows of the report: launch verdicts, headline rates, categories and slices."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.record.metrics import GateResult, Rates, ReviewerMetrics
from harness.reporting.fmt import RateCell, metric_label, rate_cell, short, target

READY, NOT_READY, INCONCLUSIVE, NO_GATES = "ready", "not ready", "inconclusive", "no gates"
STATUS_CSS = {"pass": "pass", "fail": "fail", "inconclusive": "inconclusive", "no data": "nodata"}
VERDICT_CSS = {READY: "pass", NOT_READY: "fail", INCONCLUSIVE: "inconclusive", NO_GATES: "nodata"}


@dataclass(frozen=True)
class GateRow:
    gate: str
    metric: str
    scope: str
    target: str
    value: RateCell
    status: str
    css: str


@dataclass(frozen=True)
class LaunchVerdict:
    reviewer: str
    verdict: str
    css: str
    reason: str
    gates: list[GateRow]
    note: str = ""  # e.g. that the reviewer judged a seeded sample of the items


@dataclass(frozen=True)
class HeadlineRow:
    policy: str
    role: str
    reviewer: str
    items: int
    benign: int
    violating: int
    abstained: int
    over_enforcement: RateCell
    leakage: RateCell
    false_action_share: RateCell
    abstention_rate: RateCell
    warnings: list[str]
    note: str = ""  # e.g. that the reviewer does not read the policy text, so one row serves both versions


@dataclass(frozen=True)
class BreakdownRow:
    """One category or slice value; `harm` orders rows worst first."""

    key: str
    label: str
    items: int
    benign: int | None
    violating: int | None
    over_enforcement: RateCell
    leakage: RateCell
    false_action_share: RateCell | None
    abstained: int | None
    extra: str = ""
    # categories only: one-vs-rest false positives, and items whose gold for the category is unknown
    category_false_positive: RateCell | None = None
    unknown: int | None = None

    @property
    def harm(self) -> float:
        values = [c.value for c in (self.over_enforcement, self.leakage) if c.value is not None]
        return max(values) if values else -1.0

    @property
    def small(self) -> bool:
        return self.over_enforcement.small or self.leakage.small


@dataclass
class BreakdownTable:
    reviewer: str
    title: str
    column: str
    rows: list[BreakdownRow]
    hidden: int = 0
    chart: str | None = None
    chart_alt: str = ""
    notes: list[str] = field(default_factory=list)


def launch_verdicts(reviewers: dict[str, ReviewerMetrics]) -> list[LaunchVerdict]:
    """Any fail -> not ready; any inconclusive or gate without data -> inconclusive; else ready.

    A gate without data counts as inconclusive: launching on a target nobody measured is not "ready".
    """
    out = []
    for name, metrics in reviewers.items():
        rows = [gate_row(g) for g in metrics.gates]
        statuses = [r.status for r in rows]
        if not rows:
            verdict, reason = NO_GATES, "no launch gates are defined in the experiment"
        elif "fail" in statuses:
            verdict, reason = NOT_READY, f"{statuses.count('fail')} of {len(rows)} gates fail"
        elif "inconclusive" in statuses or "no data" in statuses:
            verdict = INCONCLUSIVE
            parts = [f"{statuses.count(s)} {label}" for s, label in
                     (("inconclusive", "inconclusive"), ("no data", "without data")) if s in statuses]
            reason = f"{' and '.join(parts)}, of {len(rows)} gates"
        else:
            verdict, reason = READY, f"all {len(rows)} gates pass with their whole interval"
        out.append(LaunchVerdict(name, verdict, VERDICT_CSS[verdict], reason, rows))
    return out


def gate_row(gate: GateResult) -> GateRow:
    return GateRow(gate=gate.gate, metric=metric_label(gate.metric), scope=gate.scope, target=target(gate),
                   value=rate_cell(gate.value), status=gate.status, css=STATUS_CSS.get(gate.status, "nodata"))


def headline_rows(policy: str, role: str, reviewers: dict[str, ReviewerMetrics]) -> list[HeadlineRow]:
    return [
        HeadlineRow(policy=policy, role=role, reviewer=name, items=m.items, benign=m.benign, violating=m.violating,
                    abstained=m.abstained, over_enforcement=rate_cell(m.over_enforcement),
                    leakage=rate_cell(m.leakage), false_action_share=rate_cell(m.false_action_share),
                    abstention_rate=rate_cell(m.abstention_rate), warnings=list(m.warnings))
        for name, m in reviewers.items()
    ]


def category_table(reviewer: str, metrics: ReviewerMetrics, names: dict[str, str]) -> BreakdownTable:
    rows = [
        BreakdownRow(key=str(cid), label=short(f"{cid} ({names[cid]})" if names.get(cid) else cid),
                     items=c.items, benign=None, violating=c.items,
                     over_enforcement=rate_cell(c.over_enforcement), leakage=rate_cell(c.leakage),
                     false_action_share=None, abstained=None, extra=str(c.wrong_category),
                     category_false_positive=rate_cell(c.category_false_positive), unknown=c.unknown)
        for cid, c in metrics.categories.items()
    ]
    if all(r.category_false_positive is None or _same(r.category_false_positive, r.over_enforcement) for r in rows):
        # Single-category policies: "outside the category" is "benign", the same numbers twice.
        rows = [replace(r, category_false_positive=None) for r in rows]
    return BreakdownTable(reviewer, f"{reviewer}: by category", "category", by_harm(rows))


def _same(a: RateCell, b: RateCell) -> bool:
    return (a.k, a.n) == (b.k, b.n)


def slice_tables(reviewer: str, metrics: ReviewerMetrics, cap: int, skip: str | None = None) -> list[BreakdownTable]:
    """`skip`: a slice column shown elsewhere (the language column in the localization view)."""
    tables = []
    for column, values in metrics.slices.items():
        if column == skip:
            continue
        rows = by_harm([slice_row(str(value), m) for value, m in values.items()])
        table = BreakdownTable(reviewer, f"{reviewer}: by {short(column, 60)}", str(column), rows[:cap],
                               hidden=max(0, len(rows) - cap))
        tables.append(table)
    return tables


def slice_row(value: str, m: Rates) -> BreakdownRow:
    return BreakdownRow(key=value, label=short(value), items=m.items, benign=m.benign, violating=m.violating,
                        over_enforcement=rate_cell(m.over_enforcement), leakage=rate_cell(m.leakage),
                        false_action_share=rate_cell(m.false_action_share), abstained=m.abstained)


def by_harm(rows: list[BreakdownRow]) -> list[BreakdownRow]:
    """Worst first: highest over-enforcement or leakage; rows without data last; ties by size, then name."""
    return sorted(rows, key=lambda r: (-r.harm, -r.items, r.key))


def worst_slices(tables: list[BreakdownTable], limit: int) -> list[tuple[str, BreakdownRow]]:
    """The worst slice values of one reviewer across all slice columns (for the short Markdown report)."""
    rows = [(t.column, r) for t in tables for r in t.rows if r.harm >= 0]
    return sorted(rows, key=lambda cr: (-cr[1].harm, -cr[1].items, cr[0], cr[1].key))[:limit]

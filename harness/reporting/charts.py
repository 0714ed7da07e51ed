"""Charts as inline SVG data URIs, drawn by hand (harness.reporting.svg): no plotting library to import."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from harness.reporting.agreement import KappaRow
from harness.reporting.analysis import Confusion
from harness.reporting.fmt import RateCell, short
from harness.reporting.svg import INK, LABEL_SIZE, MUTED, TICK_SIZE, TITLE_SIZE, Canvas, Scale, text_width
from harness.reporting.tables import BreakdownTable
from harness.reporting.thresholds import Curve
from harness.verdicts import DECISIONS

CHART_CAP = 25
OE_COLOUR, LEAK_COLOUR = "#1f77b4", "#d62728"
# matplotlib's default colour cycle, so curves keep the colours readers know from earlier reports.
CYCLE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")
PERCENT_TICKS = (0, 20, 40, 60, 80, 100)
PAD, TITLE_BAND, X_AXIS_BAND = 10, 28, 42
ROW = 24


class RateRow(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def items(self) -> int: ...
    @property
    def over_enforcement(self) -> RateCell: ...
    @property
    def leakage(self) -> RateCell: ...


def rates_chart(title: str, rows: Sequence[RateRow], highlight: Collection[str] = (),
                width: float = 8.0) -> str | None:
    """Over-enforcement and leakage with 95% intervals per row, first row at the top;
    labels in `highlight` (flagged languages) are drawn in red and bold. `width` is in inches of 100 px."""
    rows = [r for r in rows if r.over_enforcement.value is not None or r.leakage.value is not None][:CHART_CAP]
    if not rows:
        return None
    labels = [short(f"{r.label} (n={r.items})", 48) for r in rows]
    left = PAD + max(text_width(label, LABEL_SIZE, bold=True) for label in labels) + 8
    total = max(width * 100, left + 260)
    top, bottom = TITLE_BAND + 20, TITLE_BAND + 20 + ROW * len(rows)
    canvas = Canvas(total, bottom + X_AXIS_BAND)
    x = Scale(-2, 102, left, total - 16)
    canvas.x_axis(x, PERCENT_TICKS, top - 4, bottom, "rate, % (95% interval)")
    title = short(title, 90)
    canvas.text(PAD, 16, title, size=TITLE_SIZE, bold=True)
    legend_x = total - 16 - 260
    for name, colour in (("over-enforcement", OE_COLOUR), ("leakage", LEAK_COLOUR)):
        canvas.circle(legend_x, TITLE_BAND + 4, 4, colour)
        canvas.text(legend_x + 8, TITLE_BAND + 4, name, size=TICK_SIZE)
        legend_x += 8 + text_width(name, TICK_SIZE) + 24
    for i, (row, label) in enumerate(zip(rows, labels)):
        centre = top + ROW * i + ROW / 2
        flagged = row.label in highlight
        canvas.text(left - 8, centre, label, anchor="end", colour=LEAK_COLOUR if flagged else INK,
                    bold=flagged)
        for offset, cell, colour, kind in ((-4, row.over_enforcement, OE_COLOUR, "oe"),
                                            (4, row.leakage, LEAK_COLOUR, "leak")):
            if cell.value is None:
                continue
            y = centre + offset
            # min/max: Wilson bounds can sit a rounding error on the wrong side of the rate.
            low = min(cell.value, cell.low if cell.low is not None else cell.value) * 100
            high = max(cell.value, cell.high if cell.high is not None else cell.value) * 100
            canvas.line(x(low), y, x(high), y, colour=colour, width=1.2)
            for end in (low, high):
                canvas.line(x(end), y - 2.5, x(end), y + 2.5, colour=colour, width=1.2)
            canvas.circle(x(cell.value * 100), y, 3.5, colour, cls=f"mark {kind}")
    return canvas.uri(title)


def slice_chart(table: BreakdownTable) -> str | None:
    """Worst slice values at the top."""
    return rates_chart(table.title, [r for r in table.rows if r.harm >= 0])


def confusion_chart(confusion: Confusion) -> str:
    """Green cells are right decisions, red cells mistakes, grey abstentions; darker means more items."""
    right = {(0, 1), (1, 0)}
    rows = ("gold benign", "gold violating")
    cell_w, cell_h = 96, 56
    left = PAD + max(text_width(r, LABEL_SIZE) for r in rows) + 8
    title = short(f"{confusion.reviewer}: decisions vs gold", 60)
    width = max(left + cell_w * len(DECISIONS) + PAD, PAD + text_width(title, TITLE_SIZE, bold=True) + PAD)
    canvas = Canvas(width, TITLE_BAND + cell_h * len(rows) + 28)
    canvas.text(PAD, 16, title, size=TITLE_SIZE, bold=True)
    top = max(1, max(max(row) for row in confusion.counts))
    for i, row in enumerate(confusion.counts):
        y = TITLE_BAND + cell_h * i
        canvas.text(left - 8, y + cell_h / 2, rows[i], anchor="end")
        for j, value in enumerate(row):
            colour = "#57606a" if j == 2 else "#1a7f37" if (i, j) in right else "#b42318"
            strength = 0.08 + 0.82 * value / top
            x = left + cell_w * j
            canvas.rect(x, y, cell_w, cell_h, colour, opacity=strength, stroke="white", cls="cell")
            canvas.text(x + cell_w / 2, y + cell_h / 2, f"{value:,}", size=14, anchor="middle", bold=True,
                        colour="white" if strength > 0.55 else INK)
    for j, decision in enumerate(DECISIONS):
        canvas.text(left + cell_w * j + cell_w / 2, TITLE_BAND + cell_h * len(rows) + 14, decision,
                    anchor="middle")
    return canvas.uri(title)


def curve_chart(curves: list[Curve]) -> str | None:
    """The trade-off a threshold change buys; the dot is the reviewer's current operating point,
    the crosses the thresholds that meet each gate."""
    if not curves:
        return None
    title = "Over-enforcement vs leakage over score thresholds"
    labels = [short(f"{c.reviewer} (n={c.items})", 40) for c in curves]
    left, right, top = 58, 16, TITLE_BAND + 8
    plot = 380
    width = max(left + plot + right, PAD + text_width(title, TITLE_SIZE, bold=True) + PAD)
    canvas = Canvas(width, top + plot + X_AXIS_BAND)
    x = Scale(-2, 102, left, width - right)
    y = Scale(-2, 102, top + plot, top)
    canvas.x_axis(x, PERCENT_TICKS, top, top + plot, "over-enforcement, % of benign items actioned")
    canvas.y_axis(y, PERCENT_TICKS, left, width - right, "leakage, % of violating items allowed")
    canvas.text(PAD, 16, title, size=TITLE_SIZE, bold=True)
    for i, curve in enumerate(curves):
        colour = CYCLE[i % len(CYCLE)]
        points = [(x(oe * 100), y(leak * 100)) for oe, leak in zip(curve.over_enforcement, curve.leakage)]
        if points:
            canvas.steps(points, colour, cls="curve")
        if curve.current:
            canvas.circle(x(curve.current[0] * 100), y(curve.current[1] * 100), 4.5, colour, cls="mark current")
        for oe, leak in curve.operating:
            canvas.cross(x(oe * 100), y(leak * 100), 4.5, colour, cls="mark gate")
    legend_x = width - right - 10 - max(text_width(label, TICK_SIZE) for label in labels) - 15
    canvas.legend(legend_x, top + 12, [(label, CYCLE[i % len(CYCLE)]) for i, label in enumerate(labels)])
    return canvas.uri(title)


def kappa_chart(rows: list[KappaRow]) -> str | None:
    """Cohen's kappa per pair on a -1..1 scale: 0 is chance agreement, 1 perfect."""
    rows = [r for r in rows if r.kappa is not None][:CHART_CAP]
    # One bar says no more than the table beside it.
    if len(rows) < 2:
        return None
    labels = [short(f"{r.label} (n={r.n})", 40) for r in rows]
    left = PAD + max(text_width(label, LABEL_SIZE) for label in labels) + 8
    width = max(550, left + 300)
    top, bottom = TITLE_BAND + 6, TITLE_BAND + 6 + ROW * len(rows)
    canvas = Canvas(width, bottom + X_AXIS_BAND)
    x = Scale(-1, 1.1, left, width - 16)
    canvas.x_axis(x, (-1, -0.5, 0, 0.5, 1), top, bottom, "Cohen's kappa (0 = chance, 1 = perfect)")
    canvas.text(PAD, 16, "Agreement", size=TITLE_SIZE, bold=True)
    for i, (row, label) in enumerate(zip(rows, labels)):
        value = row.kappa or 0.0
        centre = top + ROW * i + ROW / 2
        colour = "#1a7f37" if value >= 0.6 else "#9a6700" if value >= 0.2 else "#b42318"
        canvas.text(left - 8, centre, label, anchor="end")
        start, end = sorted((x(0), x(value)))
        canvas.rect(start, centre - ROW * 0.3, end - start, ROW * 0.6, colour, cls="bar")
        after = x(value) + (4 if value >= 0 else -4)
        canvas.text(after, centre, f"{value:.2f}", size=TICK_SIZE, anchor="start" if value >= 0 else "end")
    canvas.line(x(0), top, x(0), bottom, colour=MUTED, width=1.0)
    return canvas.uri("Agreement")

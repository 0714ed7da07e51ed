"""Charts as inline PNG data URIs (matplotlib, Agg; imported lazily so Markdown never pays for it)."""

from __future__ import annotations

import base64
import io
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from harness.reporting.agreement import KappaRow
from harness.reporting.analysis import Confusion
from harness.reporting.fmt import RateCell, short
from harness.reporting.tables import BreakdownTable
from harness.reporting.thresholds import Curve
from harness.verdicts import DECISIONS

CHART_CAP = 25
OE_COLOUR, LEAK_COLOUR = "#1f77b4", "#d62728"
# Slice values are untrusted: "$" must not start mathtext (a parse error would crash the report).
RC = {"text.parse_math": False, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
      "svg.fonttype": "none"}


def _figure(width: float, height: float) -> Any:
    # A bare Figure drawn on an explicit Agg canvas: no pyplot, so no global backend switch for the caller.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # matplotlib's own PNG writer

    # One draw (the layout engine runs first within it), then the pixels as they are: savefig would
    # draw the figure twice, once to lay it out. The image is the same, pixel for pixel.
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    buffer = io.BytesIO()
    Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
        buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _rc() -> Any:
    import matplotlib

    return matplotlib.rc_context(RC)


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
    labels in `highlight` (flagged languages) are drawn in red."""
    rows = [r for r in rows if r.over_enforcement.value is not None or r.leakage.value is not None][:CHART_CAP]
    if not rows:
        return None
    with _rc():
        fig = _figure(width, 1.0 + 0.32 * len(rows))
        ax = fig.add_subplot()
        positions = list(range(len(rows)))[::-1]
        for offset, name, colour in ((0.15, "over_enforcement", OE_COLOUR), (-0.15, "leakage", LEAK_COLOUR)):
            ys, xs, lows, highs = [], [], [], []
            for y, row in zip(positions, rows):
                cell = getattr(row, name)
                if cell.value is None:
                    continue
                ys.append(y + offset)
                xs.append(cell.value * 100)
                # max(0, ...): Wilson bounds can sit a rounding error on the wrong side of the rate.
                lows.append(max(0.0, cell.value - (cell.low if cell.low is not None else cell.value)) * 100)
                highs.append(max(0.0, (cell.high if cell.high is not None else cell.value) - cell.value) * 100)
            if xs:
                ax.errorbar(xs, ys, xerr=[lows, highs], fmt="o", color=colour, ecolor=colour, elinewidth=1.2,
                            capsize=2, markersize=4, label=name.replace("_", "-"))
        ax.set_yticks(positions, [short(f"{r.label} (n={r.items})", 48) for r in rows])
        for tick, row in zip(ax.get_yticklabels(), rows):
            if row.label in highlight:
                tick.set_color(LEAK_COLOUR)
                tick.set_fontweight("bold")
        ax.set_xlim(-2, 102)
        ax.set_xlabel("rate, % (95% interval)")
        ax.set_title(short(title, 90), loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        return _png(fig)


def slice_chart(table: BreakdownTable) -> str | None:
    """Worst slice values at the top."""
    return rates_chart(table.title, [r for r in table.rows if r.harm >= 0])


def confusion_chart(confusion: Confusion) -> str:
    """Green cells are right decisions, red cells mistakes, grey abstentions; darker means more items."""
    from matplotlib.patches import Rectangle

    right = {(0, 1), (1, 0)}
    with _rc():
        fig = _figure(4.2, 2.4)
        ax = fig.add_subplot()
        top = max(1, max(max(row) for row in confusion.counts))
        for i, row in enumerate(confusion.counts):
            for j, value in enumerate(row):
                colour = "#57606a" if j == 2 else "#1a7f37" if (i, j) in right else "#b42318"
                strength = 0.08 + 0.82 * value / top
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour, alpha=strength,
                                       edgecolor="white", linewidth=2))
                ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=11, fontweight="bold",
                        color="white" if strength > 0.55 else "#1d2330")
        ax.set_xlim(-0.5, 2.5)
        ax.set_ylim(1.5, -0.5)
        ax.set_xticks(range(len(DECISIONS)), list(DECISIONS))
        ax.set_yticks([0, 1], ["gold benign", "gold violating"])
        ax.tick_params(length=0)
        ax.set_title(short(f"{confusion.reviewer}: decisions vs gold", 60), loc="left")
        for spine in ax.spines.values():
            spine.set_visible(False)
        return _png(fig)


def curve_chart(curves: list[Curve]) -> str | None:
    """The trade-off a threshold change buys; the dot is the reviewer's current operating point,
    the crosses the thresholds that meet each gate."""
    if not curves:
        return None
    with _rc():
        fig = _figure(5.5, 4.0)
        ax = fig.add_subplot()
        for curve in curves:
            line = ax.plot([x * 100 for x in curve.over_enforcement], [y * 100 for y in curve.leakage],
                           drawstyle="steps-post", label=short(f"{curve.reviewer} (n={curve.items})", 40))[0]
            if curve.current:
                ax.plot([curve.current[0] * 100], [curve.current[1] * 100], "o", color=line.get_color(), markersize=6)
            for oe, leak in curve.operating:
                ax.plot([oe * 100], [leak * 100], "x", color=line.get_color(), markersize=7, markeredgewidth=1.5)
        ax.set_xlabel("over-enforcement, % of benign items actioned")
        ax.set_ylabel("leakage, % of violating items allowed")
        ax.set_xlim(-2, 102)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.set_title("Over-enforcement vs leakage over score thresholds", loc="left")
        ax.legend(fontsize=8, frameon=False)
        return _png(fig)


def kappa_chart(rows: list[KappaRow]) -> str | None:
    """Cohen's kappa per pair on a -1..1 scale: 0 is chance agreement, 1 perfect."""
    rows = [r for r in rows if r.kappa is not None][:CHART_CAP]
    # One bar says no more than the table beside it.
    if len(rows) < 2:
        return None
    with _rc():
        fig = _figure(5.5, 1.0 + 0.35 * len(rows))
        ax = fig.add_subplot()
        positions = list(range(len(rows)))[::-1]
        values = [r.kappa or 0.0 for r in rows]
        colours = ["#1a7f37" if v >= 0.6 else "#9a6700" if v >= 0.2 else "#b42318" for v in values]
        ax.barh(positions, values, color=colours, height=0.6)
        for y, value in zip(positions, values):
            ax.text(value + (0.02 if value >= 0 else -0.02), y, f"{value:.2f}", va="center",
                    ha="left" if value >= 0 else "right", fontsize=8)
        ax.set_yticks(positions, [short(f"{r.label} (n={r.n})", 40) for r in rows])
        ax.axvline(0, color="#57606a", linewidth=0.8)
        ax.set_xlim(-1, 1.1)
        ax.set_xlabel("Cohen's kappa (0 = chance, 1 = perfect)")
        ax.set_title("Agreement", loc="left")
        ax.grid(axis="x", alpha=0.3)
        return _png(fig)

"""portfolio.html and portfolio.json: one self-contained, script-free page (inline SVG charts, every name escaped)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from urllib.parse import quote

from harness.record import Rate, write_json
from harness.record.files import atomic_write_text
from harness.record.portfolio import PORTFOLIO_HTML, PORTFOLIO_JSON, PolicyTrend, Portfolio
from harness.reporting.pages import render as render_page

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 220, 44, 40, 12
OE_COLOUR, LEAK_COLOUR = "#1f77b4", "#d62728"


@dataclasses.dataclass(frozen=True)
class Mark:
    x: float
    y: float | None
    low: float | None
    high: float | None


@dataclasses.dataclass(frozen=True)
class Chart:
    """Coordinates only: numbers reach the SVG attributes, names go through the template's escaping."""
    policy_id: str
    labels: list[tuple[float, str, str]]  # (x, "v1 #1", reviewer)
    ticks: list[tuple[float, str]]
    series: list[tuple[str, str, list[Mark]]]  # (name, colour, marks)
    width: int = WIDTH
    height: int = HEIGHT


def trend_chart(trend: PolicyTrend) -> Chart:
    n = len(trend.points)
    top = max([p.over_enforcement.ci_high or 0 for p in trend.points] + [p.leakage.ci_high or 0 for p in trend.points]
              + [0.05])
    top = min(1.0, top * 1.1)
    step = (WIDTH - LEFT - 10) / max(n, 1)

    def y(value: float | None) -> float | None:
        return None if value is None else TOP + (HEIGHT - BOTTOM - TOP) * (1 - value / top)

    def marks(rates: list[Rate], shift: float) -> list[Mark]:
        return [Mark(x=LEFT + step * (i + 0.5) + shift, y=y(r.rate), low=y(r.ci_low), high=y(r.ci_high))
                for i, r in enumerate(rates)]

    labels = [(LEFT + step * (i + 0.5), f"v{p.version} #{i + 1}", _short(p.reviewer + ("*" if p.sample else "")))
              for i, p in enumerate(trend.points)]
    ticks = [(y(top * f) or 0.0, f"{top * f:.0%}") for f in (0, 0.5, 1)]
    return Chart(policy_id=trend.policy_id, labels=labels, ticks=ticks, series=[
        ("over-enforcement", OE_COLOUR, marks([p.over_enforcement for p in trend.points], -4)),
        ("leakage", LEAK_COLOUR, marks([p.leakage for p in trend.points], 4))])


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def link(report: str | None, out_dir: Path) -> str | None:
    """A relative link to a launch report on disk, percent-encoded and starting with './' or '../' so no
    folder name can read as a URL scheme."""
    if report is None:
        return None
    path = Path(report)
    try:
        rel = os.path.relpath(path.resolve(), out_dir.resolve())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    rel = rel.replace(os.sep, "/")
    return quote(rel if rel.startswith("../") else f"./{rel}", safe="/.-_~")


def render(portfolio: Portfolio, out_dir: Path) -> str:
    cells = {(c.language, f"{c.policy_id} v{c.version} · {c.reviewer}"): c for c in portfolio.languages.cells}
    links = {r.latest.source: link(r.latest.report, out_dir) for r in portfolio.rows}
    return render_page(
        "portfolio.html.j2", p=portfolio, charts=[trend_chart(t) for t in portfolio.trends if t.points], cells=cells,
        links=links)


def write_portfolio(portfolio: Portfolio, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    html, data = out_dir / PORTFOLIO_HTML, out_dir / PORTFOLIO_JSON
    write_json(data, portfolio)
    atomic_write_text(html, render(portfolio, out_dir))
    return html, data


def portfolio_text(portfolio: Portfolio, html: Path, data: Path) -> str:
    return "\n".join([*portfolio.summary, f"wrote {html} and {data}"])

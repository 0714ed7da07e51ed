"""The report's inline SVG charts: well-formed XML, untrusted labels escaped, one mark per value shown."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from harness.reporting import charts
from harness.reporting.agreement import KappaRow
from harness.reporting.analysis import Confusion
from harness.reporting.fmt import RateCell
from harness.reporting.thresholds import Curve

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = ["<script>alert('x')</script>", "A & B", 'say "hi"', "insult $at$ referee", "Müller ğ 日本語 🙂",
           "bell\x07 and nul\x00"]


@dataclass(frozen=True)
class Row:
    label: str
    items: int
    over_enforcement: RateCell
    leakage: RateCell


def cell(value: float | None, low: float | None = None, high: float | None = None) -> RateCell:
    return RateCell(value, low, high, 0, 10, "", "", "", "", "", False)


def parse(uri: str | None) -> tuple[str, ET.Element]:
    assert uri is not None and uri.startswith("data:image/svg+xml;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")
    return raw, ET.fromstring(raw)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def marks(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}{tag}") if cls in (e.get("class") or "").split()]


def test_rates_chart_escapes_labels_and_draws_one_dot_per_rate() -> None:
    rows = [Row(label, 10 + i, cell(0.1 * i, 0.0, 0.2 * i), cell(None if i == 2 else 0.5, 0.3, 0.7))
            for i, label in enumerate(HOSTILE)]
    rows.append(Row("nothing measured", 3, cell(None), cell(None)))
    raw, root = parse(charts.rates_chart("by <tactic> & more", rows, highlight={HOSTILE[1]}))
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    shown = texts(root)
    assert "<script>alert('x')</script> (n=10)" in shown and 'say "hi" (n=12)' in shown
    assert "insult $at$ referee (n=13)" in shown and "Müller ğ 日本語 🙂 (n=14)" in shown
    assert "bell\ufffd and nul\ufffd (n=15)" in shown  # characters XML cannot carry are replaced
    assert "by <tactic> & more" in shown and "rate, % (95% interval)" in shown
    assert not any(t.startswith("nothing measured") for t in shown)
    assert len(marks(root, "circle", "oe")) == len(HOSTILE)
    assert len(marks(root, "circle", "leak")) == len(HOSTILE) - 1
    flagged = [t for t in root.iter(f"{NS}text") if t.text == "A & B (n=11)"]
    assert flagged[0].get("fill") == charts.LEAK_COLOUR and flagged[0].get("font-weight") == "bold"
    plain = [t for t in root.iter(f"{NS}text") if t.text == 'say "hi" (n=12)']
    assert plain[0].get("font-weight") is None


def test_rates_chart_rows_run_top_down_and_dots_sit_at_their_rate() -> None:
    rows = [Row("first", 5, cell(0.0, 0.0, 0.1), cell(None)), Row("second", 5, cell(1.0, 0.9, 1.0), cell(None))]
    _, root = parse(charts.rates_chart("t", rows))
    dots = marks(root, "circle", "oe")
    assert float(dots[0].get("cy") or 0) < float(dots[1].get("cy") or 0)
    assert float(dots[0].get("cx") or 0) < float(dots[1].get("cx") or 0)
    width = float(root.get("width") or 0)
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}" and width >= 800


def test_rates_chart_is_none_without_rates_and_caps_rows() -> None:
    assert charts.rates_chart("t", [Row("x", 1, cell(None), cell(None))]) is None
    many = [Row(f"v{i}", 5, cell(0.5), cell(None)) for i in range(40)]
    _, root = parse(charts.rates_chart("t", many))
    assert len(marks(root, "circle", "oe")) == charts.CHART_CAP


def test_long_labels_widen_the_left_margin() -> None:
    short_chart = parse(charts.rates_chart("t", [Row("x", 5, cell(0.5), cell(None))], width=5.4))[1]
    long_chart = parse(charts.rates_chart("t", [Row("y" * 60, 5, cell(0.5), cell(None))], width=5.4))[1]
    left = [float(marks(r, "circle", "oe")[0].get("cx") or 0) for r in (short_chart, long_chart)]
    assert left[1] > left[0]
    assert "y" * 47 + "… (n=5)" not in texts(long_chart)  # cut to 48 characters, count included
    assert any(t.endswith("…") and len(t) == 48 for t in texts(long_chart))


def test_confusion_chart_colours_cells_by_meaning_and_count() -> None:
    raw, root = parse(charts.confusion_chart(Confusion("<b>rev</b> & co", [[1, 90, 0], [100, 3, 7]])))
    assert "<b>" not in raw
    cells = marks(root, "rect", "cell")
    assert [c.get("fill") for c in cells] == ["#b42318", "#1a7f37", "#57606a", "#1a7f37", "#b42318", "#57606a"]
    opacity = [float(c.get("fill-opacity") or 0) for c in cells]
    assert opacity[3] == max(opacity) and opacity[2] == min(opacity)
    labels = {t.text: t.get("fill") for t in root.iter(f"{NS}text")}
    assert labels["100"] == "white" and labels["3"] != "white"
    assert "<b>rev</b> & co: decisions vs gold" in labels
    assert {"gold benign", "gold violating", "actioned", "allowed", "abstained"} <= set(labels)


def test_curve_chart_draws_a_line_per_reviewer_with_operating_points_and_gate_crosses() -> None:
    curves = [Curve("<script>", [0.0, 0.2, 1.0], [1.0, 0.4, 0.0], 50, (0.2, 0.4), [(0.0, 1.0), (1.0, 0.0)]),
              Curve('"quoted" & co', [0.0, 1.0], [1.0, 0.0], 20, None, [])]
    raw, root = parse(charts.curve_chart(curves))
    assert "<script>" not in raw
    assert len(marks(root, "path", "curve")) == 2
    assert len(marks(root, "circle", "current")) == 1
    assert len(marks(root, "path", "gate")) == 2
    shown = texts(root)
    assert "<script> (n=50)" in shown and '"quoted" & co (n=20)' in shown
    assert "100" in shown and "0" in shown
    assert charts.curve_chart([]) is None


def test_kappa_chart_bars_are_coloured_by_band_and_negative_bars_run_left() -> None:
    rows = [KappaRow("<i>a</i>", "gold", 0.8, "", 40), KappaRow("b", "gold", 0.3, "", 40),
            KappaRow("c & d", "b", -0.5, "", 12), KappaRow("e", "f", None, "", 0)]
    raw, root = parse(charts.kappa_chart(rows))
    assert "<i>" not in raw
    bars = marks(root, "rect", "bar")
    assert [b.get("fill") for b in bars] == ["#1a7f37", "#9a6700", "#b42318"]
    shown = texts(root)
    assert "<i>a</i> vs gold (n=40)" in shown and "c & d vs b (n=12)" in shown and "-0.50" in shown
    zero = float(bars[0].get("x") or 0)
    negative_start, negative_width = float(bars[2].get("x") or 0), float(bars[2].get("width") or 0)
    assert negative_start < zero and negative_start + negative_width == pytest.approx(zero, abs=0.2)
    assert charts.kappa_chart(rows[:1]) is None

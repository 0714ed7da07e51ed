"""Score thresholds as metrics.json records them: the trade-off curve and the threshold meeting each gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.reporting.fmt import RateCell, number, rate_cell, share_targets, short
from harness.reporting.tables import STATUS_CSS


@dataclass(frozen=True)
class Curve:
    reviewer: str
    over_enforcement: list[float]
    leakage: list[float]
    items: int
    # The reviewer's rates at its configured threshold (the eval-set headline), if known.
    current: tuple[float, float] | None
    operating: list[tuple[float, float]]


@dataclass(frozen=True)
class OperatingPoint:
    goal: str
    threshold: str
    over_enforcement: RateCell
    leakage: RateCell
    status: str
    css: str


@dataclass(frozen=True)
class ThresholdView:
    reviewer: str
    auc: str
    items: int
    excluded: str
    rule: str
    points: list[OperatingPoint]
    note: str
    warnings: list[str]
    curve: Curve | None


def threshold_views(reviewers: dict[str, Any]) -> list[ThresholdView]:
    return [threshold_view(name, m, m["thresholds"]) for name, m in reviewers.items() if m.get("thresholds")]


def threshold_view(reviewer: str, plain: dict[str, Any], t: dict[str, Any]) -> ThresholdView:
    points = [operating_point(p) for p in t.get("operating_points") or []]
    auc = number(t.get("auc"))
    unscored, unknown = int(t.get("unscored") or 0), int(t.get("unknown_gold") or 0)
    excluded = "; ".join(part for part in (f"{unscored:,} items without a score" if unscored else "",
                                           f"{unknown:,} with unknown gold" if unknown else "") if part)
    return ThresholdView(reviewer=reviewer, auc="" if auc is None else f"{auc:.3f}", items=int(t.get("items") or 0),
                         excluded=excluded, rule=str(t.get("rule") or ""), points=points, note=str(t.get("note") or ""),
                         warnings=[str(w) for w in t.get("warnings") or []],
                         curve=_curve(reviewer, plain, t, points))


def operating_point(p: dict[str, Any]) -> OperatingPoint:
    threshold = number(p.get("threshold"))
    status = str(p.get("gate_status") or "no data")
    return OperatingPoint(goal=share_targets(short(p.get("goal") or "", 120)),
                          threshold="none (action nothing)" if threshold is None else f"{threshold:.3f}",
                          over_enforcement=rate_cell(p.get("over_enforcement")), leakage=rate_cell(p.get("leakage")),
                          status=status, css=STATUS_CSS.get(status, "nodata"))


def _curve(reviewer: str, plain: dict[str, Any], t: dict[str, Any], points: list[OperatingPoint]) -> Curve | None:
    curve = t.get("curve") or {}
    pairs = [(number(x), number(y)) for x, y in zip(curve.get("over_enforcement") or [], curve.get("leakage") or [])]
    finite = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not finite:
        return None
    oe = number((plain.get("over_enforcement") or {}).get("rate"))
    leak = number((plain.get("leakage") or {}).get("rate"))
    operating = [(p.over_enforcement.value, p.leakage.value) for p in points
                 if p.over_enforcement.value is not None and p.leakage.value is not None]
    return Curve(reviewer, [x for x, _ in finite], [y for _, y in finite], int(t.get("items") or 0),
                 (oe, leak) if oe is not None and leak is not None else None, operating)

"""Score thresholds as metrics.json records them: the trade-off curve and the threshold meeting each gate."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import OperatingPoint as OperatingEntry
from harness.record.metrics import ReviewerMetrics, Thresholds
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


def threshold_views(reviewers: dict[str, ReviewerMetrics]) -> list[ThresholdView]:
    return [threshold_view(name, m, m.thresholds) for name, m in reviewers.items() if m.thresholds]


def threshold_view(reviewer: str, plain: ReviewerMetrics, t: Thresholds) -> ThresholdView:
    points = [operating_point(p) for p in t.operating_points]
    auc = number(t.auc)
    unscored, unknown = t.unscored, t.unknown_gold
    excluded = "; ".join(part for part in (f"{unscored:,} items without a score" if unscored else "",
                                           f"{unknown:,} with unknown gold" if unknown else "") if part)
    return ThresholdView(reviewer=reviewer, auc="" if auc is None else f"{auc:.3f}", items=t.items,
                         excluded=excluded, rule=t.rule, points=points, note=t.note, warnings=list(t.warnings),
                         curve=_curve(reviewer, plain, t, points))


def operating_point(p: OperatingEntry) -> OperatingPoint:
    threshold = number(p.threshold)
    status = p.gate_status or "no data"
    return OperatingPoint(goal=share_targets(short(p.goal, 120)),
                          threshold="none (action nothing)" if threshold is None else f"{threshold:.3f}",
                          over_enforcement=rate_cell(p.over_enforcement), leakage=rate_cell(p.leakage),
                          status=status, css=STATUS_CSS.get(status, "nodata"))


def _curve(reviewer: str, plain: ReviewerMetrics, t: Thresholds, points: list[OperatingPoint]) -> Curve | None:
    if t.curve is None:
        return None
    pairs = [(number(x), number(y)) for x, y in zip(t.curve.over_enforcement, t.curve.leakage)]
    finite = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not finite:
        return None
    oe = number(plain.over_enforcement.rate)
    leak = number(plain.leakage.rate)
    operating = [(p.over_enforcement.value, p.leakage.value) for p in points
                 if p.over_enforcement.value is not None and p.leakage.value is not None]
    return Curve(reviewer, [x for x, _ in finite], [y for _, y in finite], t.items,
                 (oe, leak) if oe is not None and leak is not None else None, operating)

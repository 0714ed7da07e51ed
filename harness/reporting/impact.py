"""The impact page: a forecast a planning lead reads without help (headline sentence, the overall
forecast per version, the per-language staffing table)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.impact import Cascade, Forecast, GroupForecast, ImpactResult, Quantity
from harness.record.metrics import Rate
from harness.reporting.pages import render

# (field, what the page calls it, decimals)
ROWS = (("actions", "items actioned", 0), ("wrongful_actions", "of them wrongly (benign)", 0),
        ("missed_violations", "violations missed (allowed)", 0), ("reviewed", "items sent to human review", 0),
        ("reviewer_hours", "reviewer hours", 1), ("reviewers_fte", "reviewers (full-time equivalents)", 1),
        ("appeals", "appeals", 0), ("overturns", "appeals overturned", 0),
        ("review_cost_usd", "review cost (USD)", 0), ("model_cost_usd", "model cost (USD)", 0))


def number(value: float, digits: int) -> str:
    """1240.4 -> '1,240'; with digits, '3.1'."""
    return f"{value:,.{digits}f}"


def interval(f: Forecast, digits: int) -> str:
    return f"{number(f.value, digits)} [{number(f.ci_low, digits)}, {number(f.ci_high, digits)}]"


def _change(f: Forecast, digits: int, noun: str) -> str:
    """'1,240 more items per day [980, 1,510]' or '85 fewer items per day [40, 130]': the size of
    the change, its direction in words, and the interval of that size."""
    if f.value < 0:
        return f"{number(-f.value, digits)} fewer {noun}[{number(-f.ci_high, digits)}, {number(-f.ci_low, digits)}]"
    return f"{number(f.value, digits)} more {noun}[{number(f.ci_low, digits)}, {number(f.ci_high, digits)}]"


def _staffing_language(result: ImpactResult) -> tuple[str, Quantity] | None:
    """The language whose reviewer need changes most (or is largest, without a baseline)."""
    if not result.languages:
        return None

    def size(item: tuple[str, GroupForecast]) -> float:
        q = item[1].reviewers_fte
        return abs(q.change.value) if q.change else q.candidate.value

    name, group = max(result.languages.items(), key=size)
    return name, group.reviewers_fte


def headline(result: ImpactResult) -> str:
    """'v2 actions 1,240 more items per day [980, 1,510], of them 310 wrongly [220, 410]; 95 more
    violations get through [60, 130]; German review needs 3.1 more reviewers [2.4, 3.9].'"""
    o, who = result.overall, result.candidate
    staff = _staffing_language(result)
    where, fte = (f"{staff[0]} review", staff[1]) if staff else ("review", o.reviewers_fte)
    if o.actions.change and o.wrongful_actions.change and o.missed_violations.change and fte.change:
        wrong = o.wrongful_actions.change
        return (f"{who} actions {_change(o.actions.change, 0, 'items per day ')} than {result.baseline}, "
                f"{'of them ' + interval(wrong, 0).replace(' [', ' wrongly [', 1) if wrong.value >= 0 else 'with ' + _change(wrong, 0, 'wrong actions ')}; "
                f"{_change(o.missed_violations.change, 0, 'violations get through ')}; "
                f"{where} needs {_change(fte.change, 1, 'reviewers ')}.")
    return (f"{who} actions {interval(o.actions.candidate, 0)} items per day, of them "
            f"{interval(o.wrongful_actions.candidate, 0)} wrongly; {interval(o.missed_violations.candidate, 0)} "
            f"violations get through; {where} needs {interval(fte.candidate, 1)} reviewers.")


@dataclass(frozen=True)
class Line:
    label: str
    candidate: str
    baseline: str
    change: str


def lines(group: GroupForecast) -> list[Line]:
    out = []
    for field, label, digits in ROWS:
        q: Quantity = getattr(group, field)
        out.append(Line(label, interval(q.candidate, digits), interval(q.baseline, digits) if q.baseline else "",
                        interval(q.change, digits) if q.change else ""))
    return out


@dataclass(frozen=True)
class Staffing:
    language: str
    items: str
    reviewed: str
    hours: str
    fte: Line


def staffing(result: ImpactResult) -> list[Staffing]:
    groups = {**result.languages, "overall": result.overall}
    out = []
    for name, g in groups.items():
        q = g.reviewers_fte
        out.append(Staffing(name, number(g.items_per_day, 0), interval(g.reviewed.candidate, 0),
                            interval(g.reviewer_hours.candidate, 1),
                            Line("", interval(q.candidate, 1), interval(q.baseline, 1) if q.baseline else "",
                                 interval(q.change, 1) if q.change else "")))
    return out


@dataclass(frozen=True)
class DesignRow:
    design: str
    settings: str
    over_enforcement: str
    leakage: str
    human: str
    cost: str
    bar: str  # CSS of the cost bar: numbers only
    meets: str


def _rate(rate: Rate) -> str:
    if rate.rate is None or rate.ci_low is None or rate.ci_high is None:
        return "no data"
    return f"{rate.rate:.1%} [{rate.ci_low:.1%}, {rate.ci_high:.1%}]"


def cascade_rows(cascade: Cascade) -> list[DesignRow]:
    """The designs as table rows, each with a bar of its cost per 1,000 items (the largest fills the cell)."""
    top = max((d.cost_per_1k_usd.ci_high for d in cascade.designs), default=0.0) or 1.0
    out = []
    for d in cascade.designs:
        cost = d.cost_per_1k_usd
        bar = f"left:{cost.ci_low / top * 100:.1f}%;width:{max(cost.ci_high - cost.ci_low, 0.0) / top * 100:.1f}%"
        out.append(DesignRow(d.design, ", ".join(f"{k} {v:.2f}" for k, v in d.settings.items()) or "—",
                             _rate(d.over_enforcement), _rate(d.leakage),
                             f"{d.human_share.value:.1%} [{d.human_share.ci_low:.1%}, {d.human_share.ci_high:.1%}]",
                             f"${cost.value:,.2f} [${cost.ci_low:,.2f}, ${cost.ci_high:,.2f}]", bar,
                             "meets" if d.meets_gates else "does not meet"))
    return out


def impact_page(result: ImpactResult) -> str:
    """The HTML page of impact.json."""
    return render("impact.html.j2", r=result, headline=headline(result), overall=lines(result.overall),
                  staffing=staffing(result), designs=cascade_rows(result.cascade) if result.cascade else [])

"""Population estimates: the eval-set rates re-weighted to what production users would see."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Per10k as Per10kBlock
from harness.record.metrics import ReviewerMetrics, Weighted, WeightedRate
from harness.reporting.fmt import RateCell, items_count, percent, rate_cell, short

METRICS = (("over_enforcement", "over-enforcement", "benign items actioned"),
           ("leakage", "leakage", "violating items allowed"),
           ("false_action_share", "false-action share", "actions that were wrong"))


@dataclass(frozen=True)
class PopulationRow:
    metric: str
    meaning: str
    eval_set: RateCell
    population: RateCell
    warning: str  # why this estimate is shakier than its interval says ("" when it is not)


@dataclass(frozen=True)
class Per10k:
    label: str
    value: str
    interval: str


@dataclass(frozen=True)
class PopulationView:
    reviewer: str
    rows: list[PopulationRow]
    prevalence: str
    per_10k: list[Per10k]
    per_10k_note: str
    method: str
    weights_from: str
    warnings: list[str]


def population_views(reviewers: dict[str, ReviewerMetrics]) -> list[PopulationView]:
    return [population_view(name, m, m.weighted) for name, m in reviewers.items() if m.weighted]


def population_view(reviewer: str, plain: ReviewerMetrics, weighted: Weighted) -> PopulationView:
    rows = []
    for key, label, meaning in METRICS:
        estimate = weighted.rate(key)
        rows.append(PopulationRow(label, meaning, rate_cell(plain.rate(key)), rate_cell(estimate),
                                  (estimate.warning or "") if estimate else ""))
    per = weighted.per_10k
    return PopulationView(
        reviewer=reviewer, rows=rows, prevalence=_prevalence(per.prevalence if per else None, weighted.prevalence),
        per_10k=_per_10k(per) if per else [], per_10k_note=_sentence(per.note if per else ""),
        method=weighted.method,
        weights_from=", ".join(short(w, 40) for w in weighted.weights_from) or "equal weights",
        warnings=list(weighted.warnings))


def _prevalence(given: float | dict[str, float] | None, estimated: WeightedRate | None) -> str:
    if isinstance(given, dict):
        shares = ", ".join(f"{short(cid, 30)} {percent(share, 2)}" for cid, share in given.items())
        return f"{percent(sum(given.values()), 2)} of production items violate (given: {shares})"
    if given is not None:
        return f"{percent(given, 2)} of production items violate (given in the experiment)"
    cell = rate_cell(estimated)
    if cell.no_data:
        return ""
    return f"estimated {cell.text} {cell.interval} of production items violate (from the weights)"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _per_10k(per: Per10kBlock) -> list[Per10k]:
    rows = [("benign items wrongly actioned", per.wrongly_actioned), ("violating items leaked", per.leaked)]
    rows += [(f"{short(cid, 30)} items leaked", scaled) for cid, scaled in (per.leaked_by_category or {}).items()]
    out = []
    for label, scaled in rows:
        low, high = scaled.ci_low, scaled.ci_high
        interval = f"[{items_count(low)}–{items_count(high)}]" if low is not None and high is not None else ""
        out.append(Per10k(label, items_count(scaled.value), interval))
    return out

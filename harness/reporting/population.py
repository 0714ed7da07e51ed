"""Population estimates: the eval-set rates re-weighted to what production users would see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def population_views(reviewers: dict[str, Any]) -> list[PopulationView]:
    return [population_view(name, m, m["weighted"]) for name, m in reviewers.items() if m.get("weighted")]


def population_view(reviewer: str, plain: dict[str, Any], weighted: dict[str, Any]) -> PopulationView:
    rows = [PopulationRow(label, meaning, rate_cell(plain.get(key)), rate_cell(weighted.get(key)))
            for key, label, meaning in METRICS]
    per = weighted.get("per_10k") or {}
    return PopulationView(
        reviewer=reviewer, rows=rows, prevalence=_prevalence(per.get("prevalence"), weighted.get("prevalence")),
        per_10k=_per_10k(per), per_10k_note=_sentence(str(per.get("note") or "")),
        method=str(weighted.get("method") or ""),
        weights_from=", ".join(short(w, 40) for w in weighted.get("weights_from") or []) or "equal weights",
        warnings=[str(w) for w in weighted.get("warnings") or []])


def _prevalence(given: float | dict[str, float] | None, estimated: dict[str, Any] | None) -> str:
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


def _per_10k(per: dict[str, Any]) -> list[Per10k]:
    rows = [(label, per.get(key)) for key, label in (("wrongly_actioned", "benign items wrongly actioned"),
                                                     ("leaked", "violating items leaked"))]
    rows += [(f"{short(cid, 30)} items leaked", scaled)
             for cid, scaled in (per.get("leaked_by_category") or {}).items()]
    out = []
    for label, scaled in rows:
        if not scaled:
            continue
        low, high = scaled.get("ci_low"), scaled.get("ci_high")
        interval = f"[{items_count(low)}–{items_count(high)}]" if low is not None and high is not None else ""
        out.append(Per10k(label, items_count(scaled.get("value")), interval))
    return out

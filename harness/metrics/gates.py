"""Launch gates: pass only when the whole interval meets the target."""

from __future__ import annotations

from typing import Any

from harness.config import GateSpec

PASS, FAIL, INCONCLUSIVE, NO_DATA = "pass", "fail", "inconclusive", "no data"


def evaluate_gates(gates: dict[str, GateSpec], reviewer_metrics: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for key, gate in gates.items():
        metric = key.split("@", 1)[0]
        scope, value = _scope(gate, reviewer_metrics)
        rate = value.get(metric) if value else None
        results.append({"gate": key, "metric": metric, "scope": scope, "max": gate.max, "min": gate.min,
                        "value": rate, "status": _status(gate, rate)})
    return results


def _scope(gate: GateSpec, metrics: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    if gate.category:
        return f"category {gate.category}", metrics.get("categories", {}).get(gate.category)
    if gate.slice:
        column, value = next(iter(gate.slice.items()))
        return f"{column} = {value}", metrics.get("slices", {}).get(column, {}).get(str(value))
    return "overall", metrics


def _status(gate: GateSpec, rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("rate") is None:
        return NO_DATA
    low, high = rate["ci_low"], rate["ci_high"]
    if gate.max is not None:
        if low > gate.max:
            return FAIL
        if high > gate.max:
            return INCONCLUSIVE
    if gate.min is not None:
        if high < gate.min:
            return FAIL
        if low < gate.min:
            return INCONCLUSIVE
    return PASS

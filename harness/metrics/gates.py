"""Launch gates: pass only when the whole interval meets the target."""

from __future__ import annotations

from typing import Any

from harness.config import GateSpec

PASS, FAIL, INCONCLUSIVE, NO_DATA = "pass", "fail", "inconclusive", "no data"


def evaluate_gates(gates: dict[str, GateSpec], reviewer_metrics: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for key, metric, gate in expand_per_value(gates, reviewer_metrics):
        scope, value = _scope(gate, reviewer_metrics)
        rate = value.get(metric) if value else None
        results.append({"gate": key, "metric": metric, "scope": scope, "max": gate.max, "min": gate.min,
                        "value": rate, "status": _status(gate, rate)})
    return results


def expand_per_value(gates: dict[str, GateSpec], metrics: dict[str, Any]) -> list[tuple[str, str, GateSpec]]:
    """(name, metric, gate) of every gate; `leakage: {max: 0.1, per: language}` becomes one slice gate
    per language the reviewer judged, named `leakage [language = de]`."""
    out: list[tuple[str, str, GateSpec]] = []
    for key, gate in gates.items():
        metric = key.split("@", 1)[0]
        if gate.per is None:
            out.append((key, metric, gate))
            continue
        for value in sorted(metrics.get("slices", {}).get(gate.per, {})):
            out.append((f"{key} [{gate.per} = {value}]", metric,
                        GateSpec(max=gate.max, min=gate.min, slice={gate.per: str(value)})))
    return out


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

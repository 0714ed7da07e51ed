"""Launch gates: pass only when the whole interval meets the target."""

from __future__ import annotations

from harness.config import GateSpec
from harness.record.metrics import CategoryRates, GateResult, Rate, Rates

RATIONALE_GATE = "rationale_inconsistency"
PASS, FAIL, INCONCLUSIVE, NO_DATA = "pass", "fail", "inconclusive", "no data"


def evaluate_gates(gates: dict[str, GateSpec], overall: Rates, categories: dict[str, CategoryRates],
                   slices: dict[str, dict[str, Rates]]) -> list[GateResult]:
    """Every gate (per-value gates expanded) against the reviewer's overall, category and slice rates."""
    results = []
    for key, metric, gate in expand_per_value(gates, slices):
        if metric == RATIONALE_GATE:  # not a rate of the verdicts: metrics/rationale.py evaluates it
            continue
        scope, value = _scope(gate, overall, categories, slices)
        rate = value.rate(metric) if value is not None else None
        results.append(GateResult(gate=key, metric=metric, scope=scope, max=gate.max, min=gate.min, value=rate,
                                  status=gate_status(gate, rate)))
    return results


def expand_per_value(gates: dict[str, GateSpec], slices: dict[str, dict[str, Rates]]) -> list[tuple[str, str, GateSpec]]:
    """(name, metric, gate) of every gate; `leakage: {max: 0.1, per: language}` becomes one slice gate
    per language the reviewer judged, named `leakage [language = de]`."""
    out: list[tuple[str, str, GateSpec]] = []
    for key, gate in gates.items():
        metric = key.split("@", 1)[0]
        if gate.per is None:
            out.append((key, metric, gate))
            continue
        for value in sorted(slices.get(gate.per, {})):
            out.append((f"{key} [{gate.per} = {value}]", metric,
                        GateSpec(max=gate.max, min=gate.min, slice={gate.per: str(value)})))
    return out


def _scope(gate: GateSpec, overall: Rates, categories: dict[str, CategoryRates],
           slices: dict[str, dict[str, Rates]]) -> tuple[str, Rates | CategoryRates | None]:
    if gate.category:
        return f"category {gate.category}", categories.get(gate.category)
    if gate.slice:
        column, value = next(iter(gate.slice.items()))
        return f"{column} = {value}", slices.get(column, {}).get(str(value))
    return "overall", overall


def gate_status(gate: GateSpec, rate: Rate | None) -> str:
    """pass, fail, inconclusive (the interval straddles the target) or no data."""
    if rate is None or rate.rate is None or rate.ci_low is None or rate.ci_high is None:
        return NO_DATA
    low, high = rate.ci_low, rate.ci_high
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

"""Launch gates pass only when the whole interval meets the target."""

from __future__ import annotations

from harness.config import GateSpec
from harness.metrics.gates import evaluate_gates
from harness.metrics.rates import wilson
from harness.record.metrics import CategoryRates, GateResult, Rates


def rates(over_enforcement: tuple[int, int] = (0, 0), leakage: tuple[int, int] = (0, 0)) -> Rates:
    return Rates(items=0, benign=0, violating=0, unknown=0, over_enforcement=wilson(*over_enforcement),
                 leakage=wilson(*leakage), false_action_share=wilson(0, 0), abstained=0, abstention_rate=wilson(0, 0),
                 warnings=[])


def evaluate(gates: dict[str, GateSpec], oe_k: int, oe_n: int) -> list[GateResult]:
    categories = {"HS": CategoryRates(items=400, unknown=0, leakage=wilson(0, 400), over_enforcement=wilson(0, 0),
                                      category_false_positive=wilson(0, 0), wrong_category=0)}
    slices = {"functionality": {"counter_quote_nh": rates(over_enforcement=(9, 10))}}
    return evaluate_gates(gates, rates(over_enforcement=(oe_k, oe_n), leakage=(30, 100)), categories, slices)


def status(spec: dict, name: str = "over_enforcement", oe: tuple[int, int] = (0, 400)) -> str:
    [result] = evaluate({name: GateSpec(**spec)}, *oe)
    return result.status


def test_pass_when_whole_interval_is_below_max() -> None:
    assert status({"max": 0.05}, oe=(0, 400)) == "pass"


def test_fail_when_whole_interval_is_above_max() -> None:
    assert status({"max": 0.05}, oe=(50, 100)) == "fail"


def test_inconclusive_when_interval_straddles_max() -> None:
    # 3/100 = 3% is under a 5% target, but the interval reaches ~8.5%
    assert status({"max": 0.05}, oe=(3, 100)) == "inconclusive"


def test_min_bound() -> None:
    assert status({"min": 0.2}, name="leakage") == "pass"
    assert status({"min": 0.5}, name="leakage") == "fail"
    assert status({"min": 0.25}, name="leakage") == "inconclusive"


def test_no_data() -> None:
    assert status({"max": 0.05}, oe=(0, 0)) == "no data"
    assert status({"max": 0.05, "category": "HS"}) == "no data"  # no decided benign items
    assert status({"max": 0.05, "category": "HR"}) == "no data"  # category absent
    assert status({"max": 0.05, "slice": {"functionality": "absent"}}) == "no data"


def test_scoped_gates_report_scope_and_value() -> None:
    gates = {"leakage@HS": GateSpec(max=0.05, category="HS"),
             "over_enforcement@counter": GateSpec(max=0.02, slice={"functionality": "counter_quote_nh"})}
    results = {r.gate: r for r in evaluate(gates, 0, 400)}
    assert results["leakage@HS"].status == "pass"
    assert results["leakage@HS"].scope == "category HS"
    assert results["leakage@HS"].metric == "leakage"
    counter = results["over_enforcement@counter"]
    assert counter.status == "fail" and counter.scope == "functionality = counter_quote_nh"
    assert counter.value is not None and counter.value.k == 9

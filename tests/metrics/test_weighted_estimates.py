"""Population estimates: the ratio estimator, its linearised variance, weights from strata and prevalence."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from support.models import plain

from harness.config import StrataSpec
from harness.metrics.posterior import impact_interval
from harness.metrics.stratified import item_cells
from harness.metrics.weighted import (
    POSTERIOR_METHOD,
    population_weights,
    ratio_interval,
    weighted_metrics,
    weighted_rate,
)


def frame(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    """rows of (gold, decision, weight, stratum)."""
    return pd.DataFrame(rows, columns=["gold", "decision", "weight", "source"])


def test_stratified_proportion_matches_cochran_formula() -> None:
    # Stratified estimate of a proportion (Cochran, Sampling Techniques, 3rd ed., eq. 5.51, no fpc):
    # p_st = sum W_h p_h, var = sum W_h^2 p_h (1 - p_h) / (n_h - 1).
    sizes, samples, hits = np.array([9000.0, 1000.0]), np.array([40, 20]), np.array([4, 10])
    y = np.concatenate([np.arange(n) < k for n, k in zip(samples, hits)])
    strata = np.repeat([0, 1], samples)
    weights = (sizes / samples)[strata]
    out = ratio_interval(y, np.ones_like(y), weights, strata)
    share, p = sizes / sizes.sum(), hits / samples
    assert float(out["estimate"]) == pytest.approx((share * p).sum())
    assert float(out["se"]) ** 2 == pytest.approx((share**2 * p * (1 - p) / (samples - 1)).sum())


def test_effective_size_is_the_design_one_capped_by_kish() -> None:
    sizes, samples = np.array([9000.0, 1000.0]), np.array([40, 20])
    y = np.concatenate([np.arange(40) < 4, np.arange(20) < 10])
    strata = np.repeat([0, 1], samples)
    weights = (sizes / samples)[strata]
    out = ratio_interval(y, np.ones_like(y), weights, strata)
    rate, var = float(out["estimate"]), float(out["se"]) ** 2
    kish = weights.sum() ** 2 / (weights**2).sum()
    assert float(out["n_eff"]) == pytest.approx(min(rate * (1 - rate) / var, kish))


def test_stratified_interval_approaches_the_normal_one_in_large_samples() -> None:
    # The interval is now the stratified Jeffreys posterior (it used to be Wilson on a Kish-capped
    # effective size, which under-covered; see docs/statistics.md). With hundreds of items per
    # stratum it must agree with estimate +- 1.96 se of the Cochran variance.
    sizes, samples, hits = np.array([9000.0, 1000.0]), np.array([400, 200]), np.array([40, 100])
    y = np.concatenate([np.arange(n) < k for n, k in zip(samples, hits)])
    strata = np.repeat([0, 1], samples)
    out = ratio_interval(y, np.ones_like(y), (sizes / samples)[strata], strata)
    assert out["method"] == POSTERIOR_METHOD
    rate, se = float(out["estimate"]), float(out["se"])
    assert float(out["ci_low"]) == pytest.approx(rate - 1.96 * se, abs=5e-3)  # the posterior is a little skewed
    assert float(out["ci_high"]) == pytest.approx(rate + 1.96 * se, abs=5e-3)


def test_equal_weights_give_the_jeffreys_interval() -> None:
    actioned = np.arange(200) < 30
    out = plain(weighted_rate(actioned, np.ones(200, dtype=bool), np.full(200, 3.0)))
    low, high = proportion_confint(30, 200, method="jeffreys")
    assert out["rate"] == pytest.approx(0.15)
    assert out["ci_low"] == pytest.approx(low, abs=2e-3)  # Monte Carlo quantiles of 4,000 draws
    assert out["ci_high"] == pytest.approx(high, abs=2e-3)
    assert (out["k"], out["n"]) == (30, 200) and out["population_n"] == pytest.approx(600.0)
    assert out["warning"] is None


def test_zero_rate_keeps_an_honest_upper_bound() -> None:
    # Jeffreys alone gives 0.049 at 0/50, short of Clopper-Pearson's 0.071 (Brown, Cai & DasGupta).
    out = plain(weighted_rate(np.zeros(50, dtype=bool), np.ones(50, dtype=bool), np.ones(50)))
    assert out["rate"] == 0.0 and out["ci_low"] == 0.0
    assert out["ci_high"] == pytest.approx(proportion_confint(0, 50, method="beta")[1])


def test_a_weight_column_reveals_its_strata() -> None:
    # Issue 25: `score --weight w` alone had one stratum and Korn-Graubard's interval. Weights of
    # N_h / n_h name the strata by their values: the interval is the one declaring them gives.
    y = np.arange(300) % 7 == 0
    classes = np.where(np.arange(300) % 3 == 0, 4.0, 1.0)
    alone = ratio_interval(y, np.ones_like(y), classes)
    declared = ratio_interval(y, np.ones_like(y), classes, np.where(classes > 1, "heavy", "light"))
    assert alone["method"] == POSTERIOR_METHOD and alone["strata"] == ["items of weight 4", "items of weight 1"]
    assert (float(alone["ci_low"]), float(alone["ci_high"])) == (float(declared["ci_low"]), float(declared["ci_high"]))


def test_weights_that_all_differ_count_as_kish_effective_items() -> None:
    # No few weight classes: one stratum, its weighted shares counted on Kish's effective size, so
    # the interval is Jeffreys' on that many items.
    y = np.arange(300) % 5 == 0
    weights = 1.0 + np.arange(300) / 299 * 0.2 * (np.arange(300) % 2)  # every weight differs a little
    out = ratio_interval(y, np.ones_like(y), weights)
    assert out["strata"] == ["all items"]
    kish = weights.sum() ** 2 / (weights ** 2).sum()
    share = (weights * y).sum() / weights.sum()
    low, high = proportion_confint(share * kish, kish, method="jeffreys")
    assert float(out["ci_low"]) == pytest.approx(low, abs=3e-3)
    assert float(out["ci_high"]) == pytest.approx(high, abs=3e-3)


def test_small_effective_sample_and_unseen_stratum_are_flagged() -> None:
    # Issue 13's design in miniature: a heavy stratum with no violating item at all.
    rows = ([("HS", "allowed", 1.0, "reported")] * 3 + [("HS", "actioned", 1.0, "reported")] * 12
            + [("benign", "allowed", 1.0, "random")] * 50)
    strata = StrataSpec(column="source", sizes={"reported": 2_000, "random": 98_000})
    leak = plain(weighted_metrics(frame(rows), categories=[], strata=strata))["leakage"]
    assert "effective sample of 14.0 items" in leak["warning"]  # R(1-R)/var: n - 1 with 15 items
    assert "stratum 'random' (98% of production) holds none of this rate's items" in leak["warning"]


def test_strata_sizes_weigh_each_stratum_by_its_production_share() -> None:
    # 'reported' is 1% of production but half the eval set: its over-enforcement must count 1%.
    rows = ([("benign", "actioned", 1.0, "reported")] * 50 + [("benign", "allowed", 1.0, "random")] * 50)
    strata = StrataSpec(column="source", sizes={"reported": 1_000, "random": 99_000})
    weights, codes, warnings = population_weights(frame(rows), strata, None)
    assert weights[:50] == pytest.approx(np.full(50, 20.0)) and weights[50:] == pytest.approx(np.full(50, 1980.0))
    out = plain(weighted_metrics(frame(rows), categories=[], strata=strata))
    assert out["over_enforcement"]["rate"] == pytest.approx(0.01)
    assert out["over_enforcement"]["ci_low"] < 0.01 < out["over_enforcement"]["ci_high"]
    assert "stratified" in out["method"] and out["weights_from"] == ["strata sizes"] and not warnings


def test_prevalence_reweights_false_action_share_and_gives_items_per_10k() -> None:
    # Eval set: half violating. Production: 1% violating. 10% over-enforcement, 20% leakage.
    rows = ([("benign", "actioned", 1.0, "x")] * 10 + [("benign", "allowed", 1.0, "x")] * 90
            + [("HS", "allowed", 1.0, "x")] * 20 + [("HS", "actioned", 1.0, "x")] * 80)
    out = plain(weighted_metrics(frame(rows), categories=["HS"], prevalence=0.01))
    assert out["over_enforcement"]["rate"] == pytest.approx(0.10)
    assert out["leakage"]["rate"] == pytest.approx(0.20)
    # wrong actions / all actions in production: 0.99*0.10 / (0.99*0.10 + 0.01*0.80)
    assert out["false_action_share"]["rate"] == pytest.approx(0.099 / (0.099 + 0.008))
    per = out["per_10k"]
    assert per["wrongly_actioned"]["value"] == pytest.approx(9900 * 0.10)
    assert per["leaked"]["value"] == pytest.approx(100 * 0.20)
    assert per["leaked"]["ci_low"] == pytest.approx(100 * out["leakage"]["ci_low"])
    assert out["prevalence"]["rate"] == pytest.approx(0.01)


def test_per_category_prevalence() -> None:
    rows = ([("benign", "allowed", 1.0, "x")] * 100 + [("HS", "allowed", 1.0, "x")] * 10
            + [("HS", "actioned", 1.0, "x")] * 40 + [("VS", "allowed", 1.0, "x")] * 25 + [("VS", "actioned", 1.0, "x")] * 25)
    out = plain(weighted_metrics(frame(rows), categories=["HS", "VS"], prevalence={"HS": 0.01, "VS": 0.03}))
    assert out["leakage"]["rate"] == pytest.approx((0.01 * 0.2 + 0.03 * 0.5) / 0.04)
    per = out["per_10k"]
    assert per["leaked_by_category"]["HS"]["value"] == pytest.approx(100 * 0.2)
    assert per["leaked_by_category"]["VS"]["value"] == pytest.approx(300 * 0.5)
    assert per["leaked"]["value"] == pytest.approx(20 + 150)


def test_category_without_prevalence_is_left_out_with_a_warning() -> None:
    rows = [("benign", "allowed", 1.0, "x")] * 5 + [("HS", "allowed", 1.0, "x")] * 5 + [("XX", "actioned", 1.0, "x")] * 5
    out = plain(weighted_metrics(frame(rows), categories=["HS", "XX"], prevalence={"HS": 0.05}))
    assert out["leakage"]["rate"] == pytest.approx(1.0)
    assert any("XX" in w for w in out["warnings"])


@pytest.mark.parametrize("rows", [
    [("HS", "allowed", 1.0, "x")] * 3,                                     # no benign items at all
    [("benign", "abstained", 1.0, "x"), ("HS", "abstained", 1.0, "x")],    # everything abstained
    [("benign", "actioned", 1.0, "x")],                                    # one item
    [("benign", "actioned", 0.0, "x"), ("HS", "allowed", 0.0, "x")],       # all weights zero
])
def test_edge_cases_give_defined_results_and_warnings(rows: list[tuple[str, str, float, str]]) -> None:
    out = plain(weighted_metrics(frame(rows), categories=["HS"], strata=None, prevalence=0.01))
    text = json.dumps(out, allow_nan=False)  # raises on NaN or infinity
    assert "NaN" not in text and out["warnings"]
    for name in ("over_enforcement", "leakage", "false_action_share"):
        value = out[name]
        assert value["rate"] is None or (0.0 <= value["ci_low"] <= value["rate"] <= value["ci_high"] <= 1.0)


def test_one_item_has_an_interval_not_a_point() -> None:
    out = plain(weighted_metrics(frame([("benign", "actioned", 2.0, "x")]), categories=[]))
    assert out["over_enforcement"]["rate"] == 1.0 and out["over_enforcement"]["ci_high"] == 1.0
    assert out["over_enforcement"]["ci_low"] == pytest.approx(proportion_confint(1, 1, method="beta")[0])
    assert "effective sample of 1.0" in out["over_enforcement"]["warning"]


def test_zero_weights_do_not_count_and_are_reported() -> None:
    rows = [("benign", "actioned", 0.0, "x")] * 10 + [("benign", "allowed", 1.0, "x")] * 10
    out = plain(weighted_metrics(frame(rows), categories=[]))
    assert out["over_enforcement"]["rate"] == 0.0 and out["over_enforcement"]["n"] == 20
    assert any("weight 0" in w for w in out["warnings"])


def test_unsized_stratum_is_dropped_with_a_warning() -> None:
    rows = [("benign", "actioned", 1.0, "a")] * 4 + [("benign", "allowed", 1.0, "b")] * 4
    out = plain(weighted_metrics(frame(rows), categories=[], strata=StrataSpec(column="source", sizes={"b": 10})))
    assert out["over_enforcement"]["rate"] == 0.0
    assert any("'a'" in w and "no production size" in w for w in out["warnings"])


def test_vectorised_over_replicates() -> None:
    rng = np.random.default_rng(0)
    y = rng.random((5, 40)) < 0.3
    out = ratio_interval(y, np.ones_like(y), np.ones(40))
    for row in range(5):
        single = plain(weighted_rate(y[row], np.ones(40, dtype=bool), np.ones(40)))
        assert float(out["ci_high"][row]) == pytest.approx(single["ci_high"], abs=3e-3)
    assert not any(math.isnan(v) for v in out["estimate"])


def test_impact_forecast_carries_prevalence_and_leakage_uncertainty() -> None:
    # Issue 25, item 4: the same posterior gives leaked items per 10,000 seen. Reported 2% of
    # traffic (150 of 500 violating, 30 leaked), random 98% (2 of 500 violating, 1 leaked).
    violating = np.concatenate([np.arange(500) < 150, np.arange(500) < 2])
    leaked = np.concatenate([np.arange(500) < 30, np.arange(500) < 1])
    weights = np.repeat([20_000 / 500, 980_000 / 500], 500)
    cells, names = item_cells(leaked, violating, weights)
    assert names == ["items of weight 40", "items of weight 1960"]
    low, high = impact_interval(cells, per=10_000)
    point = 10_000 * (weights * leaked).sum() / weights.sum()  # 0.02 * 0.3 * 0.2 + 0.98 * 0.004 * 0.5 = 31.6
    assert point == pytest.approx(31.6)
    # The random stratum's prevalence and leakage both rest on 2 items: the forecast spans
    # about 13 to 92 leaked per 10,000, not the point give or take the reported stratum's error.
    assert 5 < low[0] < 0.5 * point and high[0] > 2 * point

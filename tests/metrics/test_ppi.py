"""Prediction-powered prevalence (PPI++ via ppi-python): it covers at 95% (1,000 seeded files per
design, Monte Carlo s.e. 0.7 points), is narrower than gold alone when the reviewer is good, and
`score` reports it when most gold cells are blank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ppi_py import ppi_mean_ci
from support.metrics import close
from support.models import plain

from benchmarks.coverage import PPI_DESIGNS, PPI_LIMITS, ppi_study
from harness.metrics.ppi import prediction_powered
from harness.pipeline.score import score_file


@pytest.mark.parametrize("name", [n for n in PPI_DESIGNS if n not in PPI_LIMITS])
def test_prediction_powered_prevalence_covers(name: str) -> None:
    rows = {r["estimate"]: r for r in ppi_study({name: PPI_DESIGNS[name]}, 1000)}
    for row in rows.values():
        assert 0.93 <= row["coverage"] <= 0.97, row
    assert rows["PPI++"]["median_width"] < rows["gold only"]["median_width"]


def sample(rows: int = 4000, gold: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    violating = rng.random(rows) < 0.2
    actioned = np.where(violating, rng.random(rows) < 0.9, rng.random(rows) < 0.05)
    labelled = np.arange(rows) < gold
    return violating, labelled, actioned


def test_interval_is_ppi_python_at_95_percent_and_reports_the_gain() -> None:
    violating, labelled, actioned = sample()
    out = plain(prediction_powered(violating, labelled, actioned))
    low, high = (float(v) for v in np.ravel(ppi_mean_ci(violating[labelled].astype(float), actioned[labelled].astype(float),
                                                          actioned[~labelled].astype(float), alpha=0.05)))
    ppi = out["prevalence"]["prediction_powered"]
    assert (ppi["ci_low"], ppi["ci_high"]) == pytest.approx((low, high))
    assert out["prevalence"]["effective_gain"] > 1.5
    assert out["prevalence"]["gold_labels_for_same_width"] > 300
    assert set(out["not_applicable"]) == {"over_enforcement", "leakage"}


def test_few_gold_on_one_side_warns() -> None:
    violating, labelled, actioned = sample()
    violating[:300] = np.arange(300) < 4
    assert any("under-covers" in w for w in plain(prediction_powered(violating, labelled, actioned))["warnings"])


def test_score_reports_prediction_powered_prevalence_for_blank_gold(tmp_path: Path) -> None:
    violating, labelled, actioned = sample(rows=1200, gold=200)
    frame = pd.DataFrame({"gold": np.where(violating, "HS", "benign"), "pred": np.where(actioned, "HS", "benign"),
                          "source": np.where(np.arange(1200) % 3 == 0, "reported", "random")})
    frame.loc[~labelled, "gold"] = ""
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    record = score_file(str(path), gold="gold", preds=["pred"], strata="source")
    assert record.evalset.items == 200  # the gold metrics use the labelled rows only
    block = record.metrics.model_dump(mode="json")["prediction_powered"]["pred"]
    assert (block["labelled"], block["unlabelled"]) == (200, 1000)
    prevalence = block["prevalence"]
    assert prevalence["gold_only"]["n"] == 200
    assert prevalence["stratified"]["ci_low"] < prevalence["stratified"]["rate"] < prevalence["stratified"]["ci_high"]
    json.dumps(record.metrics.model_dump(mode="json"), allow_nan=False)


def test_counts_of_a_collapsed_log_give_ppi_pythons_estimate() -> None:
    from ppi_py import ppi_mean_pointestimate

    violating, labelled, actioned = sample(rows=3000, gold=400, seed=4)
    strata = (np.arange(3000) % 2).astype(np.int64)
    out = plain(prediction_powered(violating, labelled, actioned, strata, strata_names=["a", "b"]))
    estimate = float(np.ravel(ppi_mean_pointestimate(violating[labelled].astype(float), actioned[labelled].astype(float),
                                                     actioned[~labelled].astype(float)))[0])
    assert out["prevalence"]["prediction_powered"]["rate"] == pytest.approx(estimate, rel=1e-12)
    # The same rows as distinct combinations with their counts.
    table = pd.DataFrame({"v": violating, "l": labelled, "a": actioned, "s": strata})
    collapsed = table.value_counts().reset_index()
    again = plain(prediction_powered(collapsed["v"].to_numpy(), collapsed["l"].to_numpy(), collapsed["a"].to_numpy(),
                               collapsed["s"].to_numpy(), strata_names=["a", "b"], count=collapsed["count"].to_numpy()))
    close(again, out)
    assert set(out["prevalence"]["stratified"]["strata"]) == {"a", "b"}

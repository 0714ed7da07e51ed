"""Metrics of a collapsed verdict table (a `_count` column: rows standing for several identical items)
equal the metrics of the same items one row each."""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np
import pandas as pd
import pytest
from support.metrics import close
from support.models import plain

from harness.config import StrataSpec
from harness.metrics import compute_metrics
from harness.metrics.agreement import agreement
from harness.verdicts import upgrade_verdicts

POLICY = "external@v1"


def expanded_and_collapsed(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-item verdicts of two reviewers with slices, strata and weights, and the same as one row per
    distinct combination with its count (ids of the first item of each combination)."""
    rng = np.random.default_rng(seed)
    n = 3000
    gold = np.array(["benign", "HS", "VS"], dtype=object)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    stratum = rng.integers(0, 3, n)
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n)], "text": "", "gold": gold,
                          "weight": np.array([1.0, 4.0, 0.5])[stratum], "contested": False,
                          "lang": np.array(["en", "de", "fr"], dtype=object)[rng.integers(0, 3, n)],
                          "stratum": np.array(["a", "b", "c"], dtype=object)[stratum]})
    decisions = {}
    for reviewer, error in (("m1", 0.1), ("m2", 0.2)):
        actioned = (gold != "benign") != (rng.random(n) < error)
        decisions[reviewer] = np.where(rng.random(n) < 0.03, "abstained", np.where(actioned, "actioned", "allowed"))
    keys = ["gold", "weight", "lang", "stratum"]
    wide = items.assign(**decisions)
    grouped = wide.groupby([*keys, *decisions], sort=False)
    collapsed = grouped.first().reset_index().assign(_count=grouped.size().to_numpy())
    return _verdicts(wide, decisions), _verdicts(collapsed, decisions)


def _verdicts(wide: pd.DataFrame, decisions: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for reviewer in decisions:
        frames.append(wide.drop(columns=list(decisions)).assign(
            policy=POLICY, reviewer=reviewer, sample=0, decision=wide[reviewer].to_numpy(), categories="",
            rule_ids="", score=float("nan"), confidence=float("nan"), rationale="",
            abstain_reason=np.where(wide[reviewer].to_numpy() == "abstained", "no decision", ""), notes=""))
    return upgrade_verdicts(pd.concat(frames, ignore_index=True))


def metrics_of(verdicts: pd.DataFrame) -> dict[str, Any]:
    out = compute_metrics(verdicts, candidate=POLICY, baseline=None, categories=["HS", "VS"], slices=["lang"],
                          gates={}, strata=StrataSpec(column="stratum", sizes={"a": 50_000, "b": 8_000, "c": 900}))
    dumped = out.model_dump(mode="json")
    # The item lists name the items each row stands for: ids differ by construction.
    dumped["relabel_candidates"].pop("items")
    for block in dumped["agreement"].values():
        for listed in ("split", "all_wrong"):
            block[listed].pop("items")
    for errors in dumped["errors"]["reviewers"].values():
        for chosen in errors["exemplars"]:
            chosen.pop("items")
    return dumped


def test_collapsed_table_gives_the_metrics_of_one_row_per_item() -> None:
    expanded, collapsed = expanded_and_collapsed()
    assert len(collapsed) < len(expanded) / 5
    full, short = metrics_of(expanded), metrics_of(collapsed)
    close(full, short)
    assert full["reviewers"]["m1"]["items"] == 3000 and "weighted" in full["reviewers"]["m1"]


def test_weighted_alpha_is_the_krippendorff_package_value() -> None:
    rng = np.random.default_rng(7)
    ratings = rng.integers(0, 2, (3, 400)).astype(float)
    ratings[rng.random((3, 400)) < 0.2] = np.nan
    names = {1.0: "actioned", 0.0: "allowed"}
    frame = pd.DataFrame([{"item_id": f"i{i}", "reviewer": f"r{r}", "gold": "benign", "text": "",
                           "decision": names.get(ratings[r, i], "abstained")}
                          for r in range(3) for i in range(400)])
    expected = krippendorff.alpha(reliability_data=ratings, level_of_measurement="nominal")
    assert plain(agreement(frame))["krippendorff_alpha"]["alpha"] == pytest.approx(expected, rel=1e-12)

"""Cascade designs: rates on held-out items equal a direct count on the verdict table; designs that need
LLM scores are named, not guessed; the cheapest design meeting the gates is chosen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.metrics.cascade import Costs, Items, cheapest, compare

COSTS = Costs(llm_per_item_usd=0.001, human_per_item_usd=0.3)


def _table(n: int = 2_000, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    violating = rng.random(n) < 0.4
    clf = np.clip(np.where(violating, 0.65, 0.35) + rng.normal(0, 0.18, n), 0, 1)
    llm_wrong = rng.random(n) < 0.06
    llm = np.where(llm_wrong, ~violating, violating)
    llm_score = np.clip(np.where(llm, 0.8, 0.2) + rng.normal(0, 0.15, n), 0, 1)
    decided = rng.random(n) > 0.02
    return pd.DataFrame({"violating": violating, "clf": clf, "llm": llm & decided, "decided": decided,
                         "llm_score": llm_score, "dev": np.arange(n) % 2 == 0})


def _items(frame: pd.DataFrame, llm_scores: bool = True) -> Items:
    return Items(frame["violating"].to_numpy(), frame["clf"].to_numpy(), frame["llm"].to_numpy(),
                 frame["decided"].to_numpy(),
                 frame["llm_score"].to_numpy() if llm_scores else np.full(len(frame), np.nan))


def test_cascade_rates_equal_a_direct_count_on_the_table() -> None:
    frame = _table()
    outcomes, skipped = compare(_items(frame[frame["dev"]]), _items(frame[~frame["dev"]]), COSTS, {})
    assert not skipped
    got = {o.design: o for o in outcomes}["classifier, then LLM on its uncertain band"]
    low, high = got.settings["low"], got.settings["high"]
    held = frame[~frame["dev"]]
    band = (held["clf"] >= low) & (held["clf"] < high)
    decided = ~band | held["decided"]
    actioned = np.where(band, held["llm"], held["clf"] >= high)
    benign = ~held["violating"] & decided
    assert got.over_enforcement.k == int((actioned & benign).sum()) and got.over_enforcement.n == int(benign.sum())
    violating = held["violating"] & decided
    assert got.leakage.k == int((~actioned & violating).sum()) and got.leakage.n == int(violating.sum())
    assert got.cost_per_1k_usd[0] == pytest.approx(1000 * 0.001 * band.mean())
    assert got.cost_per_1k_usd[1] <= got.cost_per_1k_usd[0] <= got.cost_per_1k_usd[2]
    assert got.human_share == (0.0, 0.0, 0.0)  # a route the design cannot take has no prior mass


def test_designs_needing_llm_scores_are_named_without_them() -> None:
    frame = _table()
    outcomes, skipped = compare(_items(frame[frame["dev"]], False), _items(frame[~frame["dev"]], False), COSTS, {})
    assert set(skipped) == {"classifier, then LLM on its band, then human review on the LLM's uncertain band",
                            "LLM, then human review on its uncertain band"}
    assert all("no scores" in why for why in skipped.values())
    assert len(outcomes) == 4


def test_the_cheapest_design_meeting_the_gates() -> None:
    frame = _table()
    dev, held = _items(frame[frame["dev"]]), _items(frame[~frame["dev"]])
    outcomes, _ = compare(dev, held, COSTS, {"over_enforcement": 0.1, "leakage": 0.1})
    best = cheapest(outcomes)
    assert best is not None and best.meets_gates
    assert best.over_enforcement.ci_high is not None and best.over_enforcement.ci_high <= 0.1
    assert all(o.cost_per_1k_usd[0] >= best.cost_per_1k_usd[0] for o in outcomes if o.meets_gates)
    assert not {o.design: o for o in outcomes}["classifier alone"].meets_gates  # the classifier is too noisy
    assert cheapest(compare(dev, held, COSTS, {"over_enforcement": 0.0, "leakage": 0.0})[0]) is None

"""The vectorised counts give exactly what the per-row and per-group definitions give."""

from __future__ import annotations

import numpy as np
import pandas as pd
from support.models import plain

from harness.labels import BENIGN, UNKNOWN
from harness.metrics.confusion import category_rates, rates, slice_rates
from harness.metrics.paired import _paired, paired_comparison
from harness.metrics.rates import wilson
from harness.verdicts import join_list, upgrade_verdicts


def random_table(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda values, p=None: np.array(values, dtype=object)[rng.choice(len(values), n, p=p)]  # noqa: E731
    gold = pick([BENIGN, "HS", "HR", "HS;HR", UNKNOWN, None], [0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    return upgrade_verdicts(pd.DataFrame({
        "item_id": [f"i{i}" for i in range(n)], "gold": gold,
        "decision": pick(["actioned", "allowed", "abstained"], [0.45, 0.45, 0.1]),
        "categories": pick(["HS", "HR", "HS;HR", "", None]),
        "gold_unknown": pick(["", "HR", "HS;HR", None], [0.8, 0.1, 0.05, 0.05]),
        "tactic": pick(["slur", "news", "fiction", None]), "lang": pick(["en", "de"]),
    }))


def per_row_category_rates(frame: pd.DataFrame, cid: str) -> dict[str, object]:
    """The definition, one row at a time."""
    text = lambda v: "" if pd.isna(v) else str(v)  # noqa: E731
    rows = list(zip(frame["gold"], frame["decision"], map(join_list, frame["categories"]), map(text, frame["gold_unknown"])))
    of_cat = [cid in str(g).split(";") for g, *_ in rows]
    has = [cid in c.split(";") for _, _, c, _ in rows]
    unknown = [(str(g) == UNKNOWN and not u) or cid in u.split(";") for g, _, _, u in rows]
    benign = [str(g) == BENIGN for g, *_ in rows]
    decided = [d != "abstained" for _, d, _, _ in rows]
    actioned = [d == "actioned" for _, d, _, _ in rows]
    count = lambda *cols: sum(all(c) for c in zip(*cols))  # noqa: E731
    negative = [not o and not u for o, u in zip(of_cat, unknown)]
    return {"items": sum(of_cat), "unknown": sum(unknown),
            "leakage": plain(wilson(count(of_cat, [d == "allowed" for _, d, _, _ in rows]), count(of_cat, decided))),
            "over_enforcement": plain(wilson(count(benign, actioned, has), count(benign, decided))),
            "category_false_positive": plain(wilson(count(negative, actioned, has), count(negative, decided))),
            "wrong_category": count(of_cat, actioned, [not h for h in has], [bool(c) for _, _, c, _ in rows])}


def test_category_rates_match_the_per_row_definition() -> None:
    for seed in range(3):
        frame = random_table(seed)
        got = plain(category_rates(frame, ["HS", "HR", "XX"]))
        assert got == {cid: per_row_category_rates(frame, cid) for cid in ["HS", "HR", "XX"]}


def test_slice_rates_match_rates_of_each_group() -> None:
    frame = random_table(7)
    expected = {column: {str(v): plain(rates(group)) for v, group in frame.groupby(column, sort=True)}
                for column in ("tactic", "lang")}
    assert plain(slice_rates(frame, ["tactic", "lang"])) == expected
    assert set(expected["tactic"]) == {"fiction", "news", "slur"}  # missing slice values form no group


def test_paired_slices_match_the_paired_counts_of_each_group() -> None:
    before = random_table(11)
    after = random_table(12)[["item_id", "decision", "categories"]].assign(rationale="r", rule_ids="")
    before = before.assign(rationale="r", rule_ids="", text="t")
    got = plain(paired_comparison(before, after, ["tactic"]))
    joined = before.merge(after[["item_id", "decision", "rationale", "rule_ids"]], on="item_id",
                          suffixes=("_before", "_after"))
    for value, group in joined.groupby("tactic", sort=True):
        expected = plain(_paired(group))
        for change in ("over_enforcement_change", "leakage_change"):
            expected[change]["p_adjusted"] = got["slices"]["tactic"][str(value)][change]["p_adjusted"]
        assert got["slices"]["tactic"][str(value)] == expected
    assert len(got["flips"]) == int((joined["decision_before"] != joined["decision_after"]).sum())

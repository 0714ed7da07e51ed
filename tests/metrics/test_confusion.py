"""Headline, per-category and per-slice rates on hand-built verdict tables."""

from __future__ import annotations

import pandas as pd
import pytest
from support.models import plain

from harness.metrics.confusion import category_rates, rates, slice_rates
from harness.verdicts import split_list


def table(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """rows of (gold, decision, predicted categories as their text form, slice value)."""
    frame = pd.DataFrame(rows, columns=["gold", "decision", "categories", "functionality"])
    return frame.assign(categories=frame["categories"].map(split_list).astype(object))


def hand_built() -> pd.DataFrame:
    rows = (
        [("benign", "actioned", "HS", "counter")] * 2
        + [("benign", "allowed", "", "counter")] * 3
        + [("benign", "allowed", "", "plain")] * 2
        + [("benign", "abstained", "", "plain")] * 1
        + [("HS", "actioned", "HS", "plain")] * 5
        + [("HS", "actioned", "HR", "plain")] * 1
        + [("HS", "allowed", "", "counter")] * 1
        + [("HS", "abstained", "", "counter")] * 2
    )
    return table(rows)


def test_rates_with_abstentions() -> None:
    out = plain(rates(hand_built()))
    assert (out["items"], out["benign"], out["violating"], out["abstained"]) == (17, 8, 9, 3)
    # abstentions are excluded from the denominators, never counted as "allowed"
    assert (out["over_enforcement"]["k"], out["over_enforcement"]["n"]) == (2, 7)
    assert out["over_enforcement"]["rate"] == pytest.approx(2 / 7)
    assert (out["leakage"]["k"], out["leakage"]["n"]) == (1, 7)
    assert (out["false_action_share"]["k"], out["false_action_share"]["n"]) == (2, 8)
    assert (out["abstention_rate"]["k"], out["abstention_rate"]["n"]) == (3, 17)
    for name in ("over_enforcement", "leakage", "false_action_share", "abstention_rate"):
        assert out[name]["ci_low"] <= out[name]["rate"] <= out[name]["ci_high"]
    assert any("over_enforcement" in w and "wide" in w for w in out["warnings"])


def test_all_abstained_gives_no_rate_and_a_warning() -> None:
    out = plain(rates(table([("benign", "abstained", "", "x"), ("HS", "abstained", "", "x")])))
    assert out["over_enforcement"]["rate"] is None and out["leakage"]["rate"] is None
    assert out["abstention_rate"]["rate"] == 1.0
    assert any("no decided benign" in w for w in out["warnings"])


def test_category_rates_and_wrong_category() -> None:
    out = plain(category_rates(hand_built(), ["HS", "HR"]))
    hs, hr = out["HS"], out["HR"]
    assert hs["items"] == 9 and hr["items"] == 0
    assert (hs["leakage"]["k"], hs["leakage"]["n"]) == (1, 7)
    assert hs["wrong_category"] == 1  # actioned, but cited HR for an HS item
    assert (hs["over_enforcement"]["k"], hs["over_enforcement"]["n"]) == (2, 7)
    assert (hr["over_enforcement"]["k"], hr["over_enforcement"]["n"]) == (0, 7)
    assert hr["leakage"]["rate"] is None and hr["leakage"]["n"] == 0


def test_multi_category_verdict_is_not_wrong_category() -> None:
    frame = table([("HS", "actioned", "HR;HS", "x"), ("HS", "actioned", "HR", "x"), ("HS", "actioned", "", "x")])
    assert plain(category_rates(frame, ["HS", "HR"]))["HS"]["wrong_category"] == 1


def test_slice_rates() -> None:
    out = slice_rates(hand_built(), ["functionality"])
    counter, rest = out["functionality"]["counter"], out["functionality"]["plain"]
    assert (counter.items, rest.items) == (8, 9)
    assert (counter.over_enforcement.k, counter.over_enforcement.n) == (2, 5)
    assert (rest.over_enforcement.k, rest.over_enforcement.n) == (0, 2)
    assert (counter.leakage.k, counter.leakage.n) == (1, 1)
    assert (rest.leakage.k, rest.leakage.n) == (0, 6)
    assert counter.abstained == 2 and rest.abstained == 1

"""The drift test: exact McNemar on paired canary decisions; its false-alarm rate under no drift."""

from __future__ import annotations

import numpy as np

from harness.metrics.drift import canary_drift, mcnemar_exact
from harness.record.drift import CanaryDrift, CanaryRun

CANARIES, FLIP, SIMULATIONS = 200, 0.2, 2000


def previous(decisions: dict[str, str]) -> CanaryRun:
    return CanaryRun(run="before", created_at="2026-01-01T00:00:00", out_dir="", reviewer="r", model="m",
                     policy="p@v1", policy_sha256="x", canaries_sha256="y", decisions=decisions,
                     drift=CanaryDrift(status="no_previous", canaries=len(decisions)))


def test_false_alarm_rate_of_a_noisy_but_stable_judge_is_at_most_the_level() -> None:
    """A judge that flips 20% of 200 canaries at random, in either direction, between runs (no drift):
    about 40 discordant pairs. The exact test never exceeds its level and comes near it with this
    many flips (docs/stability.md quotes the figure; with few flips it is far more conservative)."""
    rng = np.random.default_rng(31)
    gold = {f"c{i}": i % 2 == 0 for i in range(CANARIES)}
    alarms = 0
    for _ in range(SIMULATIONS):
        before = {i: "actioned" if rng.random() < 0.5 else "allowed" for i in gold}
        after = {i: ({"actioned": "allowed", "allowed": "actioned"}[d] if rng.random() < FLIP else d)
                 for i, d in before.items()}
        alarms += canary_drift(after, gold, previous(before), reviewer="r").status == "drift"
    rate = alarms / SIMULATIONS
    assert 0.025 < rate <= 0.05, rate


def test_one_sided_flips_are_drift_and_the_flipped_items_are_named() -> None:
    gold = {f"c{i}": True for i in range(20)}
    before = dict.fromkeys(gold, "actioned")
    after = {i: "allowed" if n < 8 else "actioned" for n, i in enumerate(gold)}
    drift = canary_drift(after, gold, previous(before), reviewer="judge")
    assert drift.status == "drift" and drift.newly_allowed == 8 and drift.newly_actioned == 0
    assert drift.flipped_item_ids == sorted(f"c{n}" for n in range(8))
    assert drift.warning is not None and "drift" in drift.warning and drift.agreement == 12 / 20


def test_abstentions_are_not_paired_and_nothing_flipped_is_p_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    drift = canary_drift({"a": "abstained", "b": "allowed"}, {"a": True, "b": False},
                         previous({"a": "actioned", "b": "allowed"}), reviewer="r")
    assert drift.status == "none" and drift.paired == 1 and drift.p_value == 1.0
    assert canary_drift({"a": "allowed"}, {"a": False}, None, reviewer="r").status == "no_previous"
    silent = canary_drift({"a": "abstained"}, {"a": True}, previous({"a": "actioned"}), reviewer="r")
    assert silent.status == "no_data" and silent.p_value is None

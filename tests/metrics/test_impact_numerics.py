"""The impact forecast's numerics: the plug-in formulas, paired draws of the change, prevalence draws."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.impact import (
    Plan,
    Route,
    RowEvidence,
    beta_from_interval,
    forecast,
    prevalence_draws,
    rate_draws,
    row_evidence,
    simulate,
    summarise,
)

PLAN = Plan(route="actions", sample_share=0.0, hours_per_reviewer_day=6.5, appeal_wrongful=0.25,
            appeal_correct=0.04, overturn_rate=0.7, reviewer_hour_usd=28.0, per_1k_model_calls_usd=0.6)


def _hand(volume: float, prevalence: float, over: float, leak: float, seconds: float) -> dict[str, float]:
    wrongful = volume * (1 - prevalence) * over
    actions = volume * (prevalence * (1 - leak) + (1 - prevalence) * over)
    hours = actions * seconds / 3600
    return {"actions": actions, "wrongful_actions": wrongful, "missed_violations": volume * prevalence * leak,
            "reviewed": actions, "reviewer_hours": hours, "reviewers_fte": hours / 6.5,
            "appeals": wrongful * 0.25 + (actions - wrongful) * 0.04, "overturns": 0.7 * 0.25 * wrongful,
            "review_cost_usd": hours * 28, "model_cost_usd": volume / 1000 * 0.6}


def test_point_forecast_is_the_hand_formula() -> None:
    got = forecast(50_000.0, 0.004, np.array([0.03, 0.8]), np.zeros(2), 55.0, PLAN)
    want = _hand(50_000.0, 0.004, 0.03, 0.2, 55.0)
    for name, value in want.items():
        assert float(got[name]) == pytest.approx(value), name
    assert float(got["reviewers_fte"]) != round(float(got["reviewers_fte"]))  # FTE, not rounded


@pytest.mark.parametrize(("route", "expected"), [("all", 10_000.0), ("sample", 1_000.0),
                                                 ("band", 10_000 * (0.9 * 0.2 + 0.1 * 0.5))])
def test_review_routes(route: Route, expected: float) -> None:
    plan = Plan(route=route, sample_share=0.1, hours_per_reviewer_day=8, appeal_wrongful=0, appeal_correct=0,
                overturn_rate=0)
    got = forecast(10_000.0, 0.1, np.array([0.05, 0.7]), np.array([0.2, 0.5]), 36.0, plan)
    assert float(got["reviewed"]) == pytest.approx(expected)
    assert float(got["reviewer_hours"]) == pytest.approx(expected / 100)


def _evidence(benign_pairs: list[tuple[bool, bool]], violating_pairs: list[tuple[bool, bool]]) -> RowEvidence:
    pairs = benign_pairs + violating_pairs
    violating = np.array([False] * len(benign_pairs) + [True] * len(violating_pairs))
    actioned = np.array(pairs, dtype=bool).T
    decided = np.ones_like(actioned)
    return row_evidence(violating, actioned, decided, np.zeros_like(actioned))


def test_the_change_of_versions_that_agree_is_narrow() -> None:
    """The change is drawn from the paired cells: two versions deciding every item alike differ by
    little (only unseen discordance), however uncertain each version's own rate is; independent
    intervals would put the change's width above each version's."""
    evidence = _evidence([(True, True)] * 5 + [(False, False)] * 45, [(True, True)] * 8 + [(False, False)] * 2)
    out = simulate([evidence], np.array([10_000.0]), np.array([0.05]), np.full((1, 4_000), 0.05), np.array([40.0]),
                   PLAN, draws=4_000)
    summary = summarise(out, np.array([True]))
    own = summary["candidate"]["actions"]
    change = summary["change"]["actions"]
    assert change.value == 0.0 and change.low < 0 < change.high
    assert change.high - change.low < 0.5 * (own.high - own.low)


def test_each_version_margin_has_the_jeffreys_posterior() -> None:
    """With prior 1/cells per cell, one version's actioned share is Beta(k + 1/2, n - k + 1/2)."""
    evidence = _evidence([(True, False)] * 3 + [(False, True)] * 4 + [(False, False)] * 33, [(True, True)] * 10)
    act, _ = rate_draws(evidence, 200_000, np.random.default_rng(1))
    from scipy.stats import beta

    for version, k in ((0, 3), (1, 4)):
        want = beta(k + 0.5, 40 - k + 0.5).ppf([0.025, 0.5, 0.975])
        assert np.quantile(act[version, 0], [0.025, 0.5, 0.975]) == pytest.approx(want, rel=0.03)


def test_abstentions_leave_the_rates() -> None:
    violating = np.array([False, False, False, True])
    actioned = np.array([[True, False, False, True]])
    decided = np.array([[True, True, False, True]])
    evidence = row_evidence(violating, actioned, decided, np.zeros_like(actioned))
    assert evidence.own[0, 0].tolist() == [1, 2, 0]  # one actioned of two decided benign items


def test_prevalence_draws_are_centred_and_shrink_with_the_sample() -> None:
    rng = np.random.default_rng(3)
    wide = prevalence_draws(0.01, 500, 50_000, rng)
    narrow = prevalence_draws(0.01, 50_000, 50_000, rng)
    assert np.mean(narrow) == pytest.approx(0.01, rel=0.02)
    assert np.std(wide) > 5 * np.std(narrow)
    assert (prevalence_draws(0.02, None, 10, rng) == 0.02).all()


def test_an_interval_becomes_the_sample_size_it_implies() -> None:
    # 1% estimated from 10,000 items: sd 0.000995, Wald interval +-1.96 sd
    size = beta_from_interval(0.01, 0.01 - 1.96 * 0.000995, 0.01 + 1.96 * 0.000995)
    assert size == pytest.approx(10_000, rel=0.01)
    assert beta_from_interval(0.01, 0.01, 0.01) is None

"""Simulated eval sets with known truth: the 95% intervals cover it about 95% of the time, and the
paired test says "changed" about 5% of the time when two versions are truly equal.

Seeded and vectorised; a few seconds in all. With 4,000 replicates the Monte Carlo standard error
of a 95% coverage is 0.34 points, so the 93-97% band is about six standard errors wide."""

from __future__ import annotations

import numpy as np
import pytest
from support.models import plain

from benchmarks.coverage import STUDY_DRAWS
from harness.metrics.paired import paired_change
from harness.metrics.weighted import ratio_interval

REPLICATES = 4000


def coverage(numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray, strata: np.ndarray | None,
             truth: float) -> float:
    out = ratio_interval(numerator, denominator, weights, strata, draws=STUDY_DRAWS)
    return float(np.mean((out["ci_low"] <= truth) & (truth <= out["ci_high"])))


@pytest.mark.parametrize(("items", "rate"), [(300, 0.08), (120, 0.3), (1000, 0.02)])
def test_unweighted_intervals_cover_the_true_rate(items: int, rate: float) -> None:
    rng = np.random.default_rng(11)
    actioned = rng.random((REPLICATES, items)) < rate
    assert 0.93 <= coverage(actioned, np.ones_like(actioned), np.ones(items), None, rate) <= 0.97


def test_unweighted_domain_rate_covers_truth_when_the_benign_count_varies() -> None:
    # Over-enforcement is a rate among benign items, whose number itself varies between eval sets.
    rng = np.random.default_rng(12)
    benign = rng.random((REPLICATES, 400)) < 0.6
    actioned = rng.random((REPLICATES, 400)) < 0.07
    assert 0.93 <= coverage(actioned, benign, np.ones(400), None, 0.07) <= 0.97


STRATIFIED = {
    # production size, items sampled, benign share, over-enforcement, leakage -- per stratum
    "three sources": ([100_000, 50_000, 20_000], [300, 200, 150], [0.8, 0.6, 0.4], [0.05, 0.10, 0.20], [0.3, 0.2, 0.1]),
    "rare violations oversampled": ([990_000, 10_000], [300, 300], [0.999, 0.01], [0.05, 0.10], [0.3, 0.2]),
}


@pytest.mark.parametrize("name", sorted(STRATIFIED))
def test_stratified_weighted_intervals_cover_the_population_rates(name: str) -> None:
    sizes, samples, benign_share, over, leak = (np.array(v, dtype=float) for v in STRATIFIED[name])
    strata = np.repeat(np.arange(len(sizes)), samples.astype(int))
    weights = (sizes / samples)[strata]
    rng = np.random.default_rng(13)
    shape = (REPLICATES, strata.size)
    benign = rng.random(shape) < benign_share[strata]
    actioned_benign = rng.random(shape) < over[strata]
    allowed_violating = rng.random(shape) < leak[strata]
    true_over = (sizes * benign_share * over).sum() / (sizes * benign_share).sum()
    true_leak = (sizes * (1 - benign_share) * leak).sum() / (sizes * (1 - benign_share)).sum()
    assert 0.93 <= coverage(actioned_benign, benign, weights, strata, true_over) <= 0.97
    leak = coverage(allowed_violating, ~benign, weights, strata, true_leak)
    if name == "rare violations oversampled":
        # The big stratum (99% of traffic) shows ~0.3 violating items per sample: its leakage is
        # unseen, and the posterior interval stays wide to say so (99% coverage). The old Wilson
        # interval covered 95% here only because this truth puts little leakage there; the same
        # method covered 85% in issue 13's design. docs/statistics.md, limits.
        assert leak >= 0.93
    else:
        assert 0.93 <= leak <= 0.97


def test_paired_test_holds_its_false_positive_rate_when_versions_are_equal() -> None:
    # 2,000 benign items judged under both versions; 25% flip, equally often each way.
    rng = np.random.default_rng(14)
    tables = rng.multinomial(2000, [0.05, 0.125, 0.125, 0.70], size=3000)
    results = [plain(paired_change(*(int(c) for c in row))) for row in tables]
    exact = np.mean([r["p_value"] < 0.05 for r in results])
    mid = np.mean([r["p_value_mid"] < 0.05 for r in results])
    covers_zero = np.mean([r["ci_low"] <= 0.0 <= r["ci_high"] for r in results])
    assert 0.03 <= exact <= 0.07
    assert 0.03 <= mid <= 0.07
    assert 0.93 <= covers_zero <= 0.97


def test_paired_interval_covers_a_real_change() -> None:
    rng = np.random.default_rng(15)
    tables = rng.multinomial(300, [0.10, 0.03, 0.08, 0.79], size=3000)  # true change +5 points
    results = [plain(paired_change(*(int(c) for c in row))) for row in tables]
    assert 0.93 <= np.mean([r["ci_low"] <= 0.05 <= r["ci_high"] for r in results]) <= 0.97

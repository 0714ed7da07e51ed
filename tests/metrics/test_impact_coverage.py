"""The impact coverage study (benchmarks/impact_coverage.py) with few replicates: the 95% intervals of
the forecast hold on rare violations (0.1%) and small slices, for each version and their change."""

from __future__ import annotations

import pytest

from benchmarks.impact_coverage import DESIGNS, Design, study

REPLICATES = 150  # Monte Carlo sd of a 95% coverage: 1.8 points; the band allows about three


@pytest.mark.parametrize("design", [DESIGNS[1], DESIGNS[2]], ids=lambda d: d.name)
def test_intervals_cover_the_true_forecast(design: Design) -> None:
    rows = study(design, REPLICATES, seed=7, draws=1_000)
    shown = [r for r in rows if r.quantity in ("actions", "wrongful_actions", "missed_violations")]
    low = [(r.group, r.version, r.quantity, r.coverage) for r in shown if r.coverage < 0.89]
    assert not low, low
    mean = sum(r.coverage for r in shown) / len(shown)
    assert 0.93 <= mean <= 0.99

"""The coverage study's grid (benchmarks/coverage.py) with fewer replicates: the weighted 95%
intervals of over-enforcement, leakage and false-action share cover the population rate 93-97% of
the time in every design, except where the study shows them conservative (listed, with why).

1,000 seeded replicates per design: the Monte Carlo s.e. of a 95% coverage is 0.69 points."""

from __future__ import annotations

import pytest

from benchmarks.coverage import DESIGNS, study

REPLICATES = 1000
# A stratum that is most of production holds about none of the violating items (0.3 or 2 per
# sample): leakage there is unseen, so an honest interval must be wide, and covers more than 97%.
CONSERVATIVE = {("rare violations oversampled", "leakage"), ("issue 13: reported 2% / random", "leakage")}


@pytest.mark.parametrize("name", list(DESIGNS))
def test_weighted_intervals_cover_in_every_design(name: str) -> None:
    for row in study({name: DESIGNS[name]}, REPLICATES):
        key = (row["design"], row["rate"])
        assert row["coverage"] >= 0.93, key
        if key in CONSERVATIVE:
            assert row["coverage"] <= 0.998, key
        else:
            assert row["coverage"] <= 0.97, key


def test_small_effective_samples_are_warned_in_the_issue_design() -> None:
    rows = {r["rate"]: r for r in study({"issue": DESIGNS["issue 13: reported 2% / random"]}, 200)}
    assert rows["leakage"]["warned"] > 0.5 and rows["over_enforcement"]["warned"] == 0.0

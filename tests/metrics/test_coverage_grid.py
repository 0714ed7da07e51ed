"""The coverage study's grid (benchmarks/coverage.py) with fewer replicates: the weighted 95%
intervals of over-enforcement, leakage and false-action share cover the population rate in every
design, through the function `score --weight` and `run` use, and `score` itself feeds it the same.

200 seeded replicates per design: the Monte Carlo allowance on a 95% coverage (two standard
errors, 2 * sqrt(0.95 * 0.05 / 200)) is 3.1 points, so a design fails below 93% - 3.1 points. Over-
coverage is not tested at this count (97% + 3.1 points is 100%); docs/statistics.md has the grid
with 2,000 replicates, where the designs that cover more than 97% are explained."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.coverage import DESIGNS, assess, sample, study
from harness.metrics.posterior import DRAWS
from harness.pipeline.score import score_file

REPLICATES = 200
ALLOWANCE = 2 * math.sqrt(0.95 * 0.05 / REPLICATES)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_weighted_intervals_cover_in_every_design(name: str) -> None:
    rows = {row["rate"]: row for row in study({name: DESIGNS[name]}, REPLICATES)}
    for rate, row in rows.items():
        assert row["coverage"] >= 0.93 - ALLOWANCE, (name, rate, row["coverage"])
    if "2000 per stratum" in name:
        # Honest, not merely wide: with four times the items the leakage interval narrows (0.34 -> 0.2).
        assert rows["leakage"]["median_width"] < 0.25
    if name.startswith("issue 25") and "500 per stratum" in name:
        # About 2 violating items in the random stratum: leakage always says so, over-enforcement never.
        assert rows["leakage"]["warned"] > 0.9 and rows["over_enforcement"]["warned"] == 0.0


def test_the_study_runs_the_path_score_runs(tmp_path: Path) -> None:
    design = DESIGNS["issue 25, harder on random, 500 per stratum, strata column"]
    frame = sample(design, np.random.default_rng(5))
    path = tmp_path / "log.csv"
    frame.rename(columns={"decision": "reviewer"}).assign(
        reviewer=lambda f: np.where(f["reviewer"] == "actioned", "remove", "allow")).to_csv(path, index=False)
    record = score_file(str(path), gold="gold", preds=["reviewer"], benign=["benign", "allow"], weight="weight",
                        strata="source")
    scored = record.metrics.reviewers["reviewer"].weighted
    studied = assess(design, frame, DRAWS)
    for rate in ("over_enforcement", "leakage", "false_action_share"):
        got = getattr(scored, rate)
        assert (got.rate, got.ci_low, got.ci_high) == pytest.approx(
            (getattr(studied, rate).rate, getattr(studied, rate).ci_low, getattr(studied, rate).ci_high), rel=1e-9)
        assert got.warning == getattr(studied, rate).warning

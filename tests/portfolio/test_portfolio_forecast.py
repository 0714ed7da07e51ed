"""The portfolio shows, beside each candidate's launch readiness, the newest impact forecast of its run."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.impact_runs import planted_run
from support.pages import Page

from harness.pipeline.impact import compute_impact, write_impact
from harness.portfolio import collect, write_portfolio
from harness.reporting.impact import headline

OPS = """review: {route: actions}
handling_seconds: {default: 40}
hours_per_reviewer_day: 6.5
appeal_rate: {wrongful: 0.25, correct: 0.04}
overturn_rate: 0.7
"""


def test_a_candidate_with_a_forecast_shows_its_headline(tmp_path: Path) -> None:
    run = planted_run(tmp_path / "runs")
    (tmp_path / "v.csv").write_text("language,items_per_day,prevalence\nde,40000,0.02\nen,100000,0.01\n",
                                    encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(OPS, encoding="utf-8")
    result = compute_impact(run, tmp_path / "v.csv", tmp_path / "ops.yaml")
    write_impact(result, tmp_path / "runs" / "forecast", log=False)
    portfolio = collect([tmp_path / "runs"])
    [row] = portfolio.rows
    assert row.forecast == headline(result) and "more items per day" in row.forecast
    html, _ = write_portfolio(portfolio, tmp_path / "portfolio")
    assert headline(result) in Page(html.read_text(encoding="utf-8")).visible_text()


def test_a_candidate_without_a_forecast_shows_a_dash(tmp_path: Path) -> None:
    planted_run(tmp_path)
    [row] = collect([tmp_path]).rows
    assert row.forecast is None


def test_the_mlflow_store_gives_the_same_forecast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.record import read_record, write_record
    from harness.tracking import log_runs, open_runs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = planted_run(tmp_path / "runs")
    record = read_record(run)
    record.mlflow = open_runs(record, experiment_name="planted")
    write_record(record, run)
    log_runs(record, run)
    (tmp_path / "v.csv").write_text("language,items_per_day,prevalence\nde,40000,0.02\n", encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(OPS, encoding="utf-8")
    result = compute_impact(run, tmp_path / "v.csv", tmp_path / "ops.yaml")
    write_impact(result, tmp_path / "forecast", log=True)
    assert result.mlflow_run_id
    [row] = collect(None).rows
    assert row.forecast == headline(result)

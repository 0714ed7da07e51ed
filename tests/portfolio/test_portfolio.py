"""The portfolio from real runs (run directories and the sqlite MLflow store they were tracked to):
its figures match the runs, and the page is script-free with every name escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.portfolio_runs import HOSTILE, Built

from harness._cli.main import main
from harness.errors import HarnessError
from harness.metrics.planning import items_for_margin
from harness.portfolio import Portfolio, collect, write_portfolio
from harness.portfolio.collect import build
from harness.record import read_record
from harness.record.portfolio import Sources


@pytest.fixture(scope="module")
def from_dirs(built: Built) -> Portfolio:
    return collect([built.root / "runs"])


@pytest.fixture(scope="module")
def from_mlflow(built: Built) -> Portfolio:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", built.uri)
        return collect(None)


def _row(p: Portfolio, policy: str, version: int):  # type: ignore[no-untyped-def]
    return next(r for r in p.rows if (r.policy_id, r.version) == (policy, version))


def test_a_row_per_policy_version_with_verdict_and_blocking_gates(from_dirs: Portfolio, built: Built) -> None:
    assert [(r.policy_id, r.version, r.reviewer) for r in from_dirs.rows] == [
        ("demo_hate", 1, "tfidf-lr"), ("demo_hate", 2, "tfidf-lr"), ("demo_spam", 1, "tfidf-lr")]
    v1, v2, spam = from_dirs.rows
    assert (v1.verdict, v1.blocking, v1.counts.failed) == ("blocked", ["leakage (overall)"], 1)
    assert (v2.verdict, v2.blocking, v2.counts.passed, v2.runs) == ("ready", [], 3, 2)
    assert (spam.verdict, spam.counts.inconclusive) == ("undecided", 1)
    # The candidate is the latest run, and its headline rates are that run's.
    latest = built.runs["run3"].metrics.reviewers["tfidf-lr"]
    assert v2.latest.source == str(built.root / "runs" / "run3")
    assert v2.leakage == latest.leakage and v2.over_enforcement == latest.over_enforcement
    assert v2.latest.report == str(built.root / "runs" / "run3" / "report.html")


def test_time_to_deploy_keeps_the_first_run_and_first_passing_run_as_context(from_dirs: Portfolio,
                                                                            built: Built) -> None:
    # The clock itself is the prompt registry's alias history (tests/portfolio/test_portfolio_deploy.py).
    v1, v2, spam = from_dirs.rows
    assert v1.time_to_deploy.first_passing_run is None and spam.time_to_deploy.first_passing_run is None
    first, passing = built.runs["run2"].created_at, built.runs["run3"].created_at
    assert (v2.time_to_deploy.first_run, v2.time_to_deploy.first_passing_run) == (first, passing)


def test_trend_has_every_run_oldest_first(from_dirs: Portfolio) -> None:
    hate = next(t for t in from_dirs.trends if t.policy_id == "demo_hate")
    assert [(p.version, p.verdict) for p in hate.points] == [(1, "blocked"), (2, "blocked"), (2, "ready")]


def test_language_matrix_matches_the_slices_and_flags(from_dirs: Portfolio, built: Built) -> None:
    matrix = from_dirs.languages
    assert matrix.languages == sorted(["de", "en", HOSTILE])
    assert matrix.policies == ["demo_hate v1 · tfidf-lr", "demo_hate v2 · tfidf-lr", "demo_spam v1 · tfidf-lr"]
    metrics = built.runs["run3"].metrics.reviewers["tfidf-lr"]
    de = next(c for c in matrix.cells if (c.policy_id, c.version, c.language) == ("demo_hate", 2, "de"))
    assert de.items == metrics.slices["language"]["de"].items == 40
    assert de.leakage == metrics.slices["language"]["de"].leakage
    assert [g.gate for g in de.gates] == ["leakage@de"] and not de.under_tested
    # German leaks half its violating items against one in twelve in English: flagged.
    assert de.flagged == ["leakage higher than the other languages"]
    assert any("de (demo_hate v2)" in line for line in from_dirs.summary)


def test_an_inconclusive_language_gate_is_under_tested_with_the_planners_count(from_dirs: Portfolio) -> None:
    de = next(c for c in from_dirs.languages.cells if (c.policy_id, c.language) == ("demo_spam", "de"))
    gate = de.gates[0]
    assert gate.status == "inconclusive" and de.under_tested
    assert gate.value is not None and gate.value.rate is not None and gate.max is not None
    expected = max(1, items_for_margin(gate.value.rate, abs(gate.value.rate - gate.max)) - gate.value.n)
    assert de.items_to_decide == expected and f"{expected:,} more benign item" in de.note and "in de" in de.note
    en = next(c for c in from_dirs.languages.cells if (c.policy_id, c.language) == ("demo_spam", "en"))
    assert not en.under_tested and en.gates == []


def test_training_coverage_per_version_and_on_the_promoted_version(from_dirs: Portfolio, built: Built) -> None:
    graded = from_dirs.training.gradings
    certified = sorted(g.reviewer for g in built.grading.reviewers if g.certification.status == "certified")
    assert [(g.policy_id, g.version, g.graded, g.certified_reviewers) for g in graded] == [
        ("demo_hate", 1, len(built.grading.reviewers), certified)]
    hate, spam = from_dirs.training.policies
    # v2 carries approved_by (what promote writes); nobody has been graded on it yet.
    assert (hate.promoted_version, hate.certified_on_promoted, hate.graded_on_promoted) == (2, 0, 0)
    assert spam.promoted_version is None and "no promoted version" in spam.note


def test_mlflow_store_gives_the_same_figures(from_mlflow: Portfolio, from_dirs: Portfolio) -> None:
    def figures(p: Portfolio) -> list[tuple[object, ...]]:
        return [(r.policy_id, r.version, r.reviewer, r.runs, r.verdict, r.blocking, r.over_enforcement, r.leakage,
                 r.time_to_deploy.hours is None) for r in p.rows]

    assert figures(from_mlflow) == figures(from_dirs)
    assert from_mlflow.languages.cells == from_dirs.languages.cells
    assert [(g.policy_id, g.version, g.certified_reviewers) for g in from_mlflow.training.gradings] == [
        (g.policy_id, g.version, g.certified_reviewers) for g in from_dirs.training.gradings]
    assert from_mlflow.training.policies == from_dirs.training.policies
    assert all(r.latest.source.startswith("mlflow:") for r in from_mlflow.rows)
    assert all(r.latest.report and Path(r.latest.report).is_file() for r in from_mlflow.rows)


def test_page_is_script_free_escapes_names_and_links_reports(from_dirs: Portfolio, tmp_path: Path) -> None:
    html, data = write_portfolio(from_dirs, tmp_path / "out")
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(" in page and "script-src &#39;none&#39;" in page
    links = re.findall(r'href="([^"#][^"]*)"', page)
    assert links and all(link.startswith("../") and link.endswith("/report.html") for link in links)
    assert all((html.parent / link).resolve().is_file() for link in links)
    stored = Portfolio.model_validate(json.loads(data.read_text(encoding="utf-8")))
    assert stored.rows == from_dirs.rows and stored.summary[0].startswith("3 policy versions")


def test_cli_writes_both_files_and_names_a_directory_without_runs(built: Built, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["portfolio", "--out", str(out), "--from", str(built.root / "runs" / "run1"),
                 str(built.grading_dir)]) == 0
    assert (out / "portfolio.html").is_file() and (out / "portfolio.json").is_file()
    assert "1 blocked" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["portfolio", "--out", str(out), "--from", str(tmp_path / "empty")]) == 2
    assert "holds no run" in capsys.readouterr().err


def test_no_runs_is_said_plainly() -> None:
    p = build(Sources(), "run directories")
    assert p.rows == [] and p.summary == ["No policy runs were found, so nothing can be said about launch readiness yet."]


def test_a_torn_run_directory_is_a_plain_error(built: Built, tmp_path: Path) -> None:
    import shutil

    torn = tmp_path / ".not-a-record" / "torn"
    shutil.copytree(built.root / "runs" / "run1", torn)
    (torn / "metrics.json").write_text("{}", encoding="utf-8")
    with pytest.raises(HarnessError, match="does not match record.json"):
        collect([torn])
    assert read_record(built.root / "runs" / "run1").name == "hate_v1"


def test_prose_carries_its_counts_and_a_sampled_reviewer_says_so(tmp_path: Path) -> None:
    """'lets 0.0% of violating items through' hid that it was 0 of 3; a sampled reviewer hid its sample."""
    from support.record_factory import build_record

    from harness.portfolio.page import trend_chart
    from harness.record import write_record

    write_record(build_record(llm_limit=20), tmp_path / "run")
    p = collect([tmp_path / "run"])
    llm = next(r for r in p.rows if r.reviewer == "llm")
    assert llm.sample == "a seeded sample of 20 of 60 items"
    blocked = [line for line in p.summary if line.startswith("toy_hate v2 (llm) is blocked")]
    rate = llm.leakage
    assert blocked and f"lets {rate.rate:.1%} ({rate.k} of {rate.n}) of violating items through" in blocked[0]
    assert blocked[0].endswith("judging a seeded sample of 20 of 60 items.")
    html, _ = write_portfolio(p, tmp_path / "page")
    assert "judged a seeded sample of 20 of 60 items" in html.read_text(encoding="utf-8")
    # The trend names each run's reviewer, a sampled one starred.
    [trend] = p.trends
    assert [(text, reviewer) for _, text, reviewer in trend_chart(trend).labels] == [
        ("v2 #1", "clf"), ("v2 #2", "llm*")]


def test_reading_the_mlflow_store_draws_no_download_bars(built: Built, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", built.uri)
        assert collect(None).rows
    captured = capfd.readouterr()
    assert "Downloading artifacts" not in captured.err + captured.out

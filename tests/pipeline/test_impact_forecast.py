"""`impact` on a run with planted rates: forecasts equal the hand formula; bad inputs are one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.impact_runs import PLANTED, planted_run
from support.pages import Page
from support.records import scored_run

from harness.errors import HarnessError
from harness.pipeline.impact import compute_impact, write_impact
from harness.record.impact import ImpactResult
from harness.record.schemas import SCHEMAS

OPS = """review: {route: actions}
handling_seconds: {default: 40, de: 55}
hours_per_reviewer_day: 6.5
appeal_rate: {wrongful: 0.25, correct: 0.04}
overturn_rate: 0.7
cost: {reviewer_hour_usd: 28, per_1k_model_calls_usd: 0.6}
"""
VOLUMES = "language,items_per_day,prevalence,prevalence_n\nde,40000,0.02,2000\nen,100000,0.01,5000\n"
SECONDS = {"de": 55, "en": 40}
PREVALENCE = {"de": 0.02, "en": 0.01}
VOLUME = {"de": 40_000, "en": 100_000}


def _files(tmp_path: Path, volumes: str = VOLUMES, ops: str = OPS) -> tuple[Path, Path, Path]:
    (tmp_path / "volumes.csv").write_text(volumes, encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(ops, encoding="utf-8")
    return planted_run(tmp_path), tmp_path / "volumes.csv", tmp_path / "ops.yaml"


def _hand(language: str, version: int) -> dict[str, float]:
    """The issue's formulas on the planted rates: version 1 the candidate, 2 the baseline."""
    planted = PLANTED[language]
    over = planted.benign[version] / planted.benign[0]
    leak = 1 - planted.violating[version] / planted.violating[0]
    v, p = VOLUME[language], PREVALENCE[language]
    actions = v * (p * (1 - leak) + (1 - p) * over)
    wrongful = v * (1 - p) * over
    hours = actions * SECONDS[language] / 3600
    return {"actions": actions, "wrongful_actions": wrongful, "missed_violations": v * p * leak,
            "reviewer_hours": hours, "reviewers_fte": hours / 6.5,
            "appeals": wrongful * 0.25 + (actions - wrongful) * 0.04, "overturns": 0.7 * 0.25 * wrongful}


def test_point_forecasts_equal_the_hand_formula(tmp_path: Path) -> None:
    result = compute_impact(*_files(tmp_path))
    assert result.baseline is not None and result.language_column == "language"
    for name in ("actions", "wrongful_actions", "missed_violations", "reviewer_hours", "reviewers_fte", "appeals",
                 "overturns"):
        for language in ("de", "en"):
            quantity = getattr(result.languages[language], name)
            cand, base = _hand(language, 1)[name], _hand(language, 2)[name]
            assert quantity.candidate.value == pytest.approx(cand), (name, language)
            assert quantity.baseline.value == pytest.approx(base), (name, language)
            assert quantity.change.value == pytest.approx(cand - base), (name, language)
            assert quantity.candidate.ci_low <= quantity.candidate.value <= quantity.candidate.ci_high
        overall = getattr(result.overall, name)
        assert overall.candidate.value == pytest.approx(sum(_hand(lang, 1)[name] for lang in ("de", "en")))
    assert result.overall.items_per_day == 140_000
    assert result.overall.model_cost_usd.candidate.value == pytest.approx(140 * 0.6)


def test_outputs_validate_and_the_page_leads_with_the_change(tmp_path: Path) -> None:
    run, volumes, ops = _files(tmp_path)
    data, html = write_impact(compute_impact(run, volumes, ops), tmp_path / "out", log=False)
    result = ImpactResult.model_validate_json(data.read_text(encoding="utf-8"))
    assert SCHEMAS["impact"].model is ImpactResult and result.schema_version == 1
    text = Page(html.read_text(encoding="utf-8")).visible_text()
    change = result.overall.actions.change
    assert change is not None
    assert f"toy_hate@v2 actions {change.value:,.0f} more items per day [{change.ci_low:,.0f}, {change.ci_high:,.0f}]" in text
    assert "of them " in text and " wrongly [" in text and "reviewers [" in text
    assert "de" in text and "full-time equivalents" in text


def test_band_route_counts_items_in_the_score_band(tmp_path: Path) -> None:
    ops = OPS.replace("{route: actions}", "{route: band, band: {reviewer: llm, low: 0.5, high: 0.7}}")
    result = compute_impact(*_files(tmp_path, ops=ops))
    # scores 0.6 exactly on allowed violating items: the candidate's leaked share of violating volume
    for language in ("de", "en"):
        assert result.languages[language].reviewed.candidate.value == pytest.approx(
            _hand(language, 1)["missed_violations"])


def test_prevalence_without_its_sample_size_is_exact(tmp_path: Path) -> None:
    volumes = "language,items_per_day,prevalence\nde,40000,0.02\nen,100000,0.01\n"
    exact = compute_impact(*_files(tmp_path, volumes=volumes))
    assert not exact.prevalence.uncertain and "prevalence_n" in exact.prevalence.note


@pytest.mark.parametrize(("volumes", "ops", "words"), [
    ("language,items_per_day\nde,100\n", OPS, "without production prevalence"),
    ("langauge,items_per_day,prevalence\nde,100,0.01\n", OPS, "Did you mean 'language'?"),
    ("language,items_per_day,prevalence\nDE,100,0.01\n", OPS, "Did you mean 'de'?"),
    ("language,items_per_day,prevalence\nde,-5,0.01\n", OPS, "row 2 has items_per_day -5"),
    ("language,items_per_day,prevalence\nde,,0.01\n", OPS, "non-negative number"),
    ("language,items_per_day,prevalence\nde,100,1.5\n", OPS, "between 0 and 1"),
    ("language,prevalence\nde,0.01\n", OPS, "no 'items_per_day' column"),
    (VOLUMES, OPS + "overturns: 0.5\n", "unknown key 'overturns'"),
    (VOLUMES, OPS.replace("hours_per_reviewer_day", "hours_per_reviewer_dya"), "Did you mean 'hours_per_reviewer_day'?"),
    (VOLUMES, OPS.replace("default: 40, ", ""), "no entry for language 'en'"),
    (VOLUMES, OPS.replace("{route: actions}", "{route: band, band: {reviewer: llm, low: 0.3, high: 0.7}}"), None),
])
def test_bad_input_is_one_sentence(tmp_path: Path, volumes: str, ops: str, words: str | None) -> None:
    if words is None:  # the band on a reviewer without scores
        (tmp_path / "volumes.csv").write_text(volumes, encoding="utf-8")
        (tmp_path / "ops.yaml").write_text(ops, encoding="utf-8")
        run = planted_run(tmp_path, scores=False)
        with pytest.raises(HarnessError, match="needs scores, and reviewer 'llm' gives none"):
            compute_impact(run, tmp_path / "volumes.csv", tmp_path / "ops.yaml")
        return
    with pytest.raises(HarnessError) as caught:
        compute_impact(*_files(tmp_path, volumes=volumes, ops=ops))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_prevalence_from_a_score_run_is_uncertain_and_shared(tmp_path: Path) -> None:
    (tmp_path / "score").mkdir()
    record, score_dir = scored_run(tmp_path / "score")
    powered = record.metrics.prediction_powered
    assert powered is not None
    estimate = powered["model"].prevalence.prediction_powered  # type: ignore[union-attr]
    volumes = "language,items_per_day\nde,40000\nen,100000\n"
    run, volume_file, ops = _files(tmp_path, volumes=volumes)
    result = compute_impact(run, volume_file, ops, prevalence_from=score_dir)
    assert result.prevalence.source == str(score_dir) and result.prevalence.uncertain
    # the point forecast uses the score run's prevalence for every row
    p = estimate.rate
    assert p is not None
    planted = PLANTED["de"]
    over, leak = planted.benign[1] / planted.benign[0], 1 - planted.violating[1] / planted.violating[0]
    assert result.languages["de"].actions.candidate.value == pytest.approx(40_000 * (p * (1 - leak) + (1 - p) * over))


def test_cascade_designs_on_held_out_items_match_the_verdict_table(tmp_path: Path) -> None:
    """A run with a classifier (scores) and an LLM (no scores): four designs compared, the two that need
    LLM scores named as not evaluated, and the classifier's held-out rates counted from the verdicts."""
    from support.record_factory import build_record

    from harness.metrics.split import split_items
    from harness.record import write_record

    record = build_record(n_items=200)
    write_record(record, tmp_path / "run")
    (tmp_path / "v.csv").write_text("language,items_per_day,prevalence\nGerman,1000,0.01\n", encoding="utf-8")
    (tmp_path / "ops.yaml").write_text(OPS, encoding="utf-8")
    result = compute_impact(tmp_path / "run", tmp_path / "v.csv", tmp_path / "ops.yaml", reviewer="llm")
    cascade = result.cascade
    assert cascade is not None and cascade.classifier == "clf" and cascade.llm == "llm"
    assert len(cascade.designs) == 4 and len(cascade.not_evaluated) == 2
    assert all("no scores" in why for why in cascade.not_evaluated.values())
    verdicts = record.verdicts[(record.verdicts["policy"] == record.candidate) & (record.verdicts["gold"] != "unknown")]
    llm = verdicts[verdicts["reviewer"] == "llm"].set_index("item_id")
    split = split_items(llm.reset_index(), holdout=0.5, seed=0, slice_column="language")
    clf = verdicts[verdicts["reviewer"] == "clf"].set_index("item_id").loc[split.holdout]
    alone = next(d for d in cascade.designs if d.design == "classifier alone")
    actioned = clf["score"] >= alone.settings["threshold"]
    benign = clf["gold"] == "benign"
    assert (alone.over_enforcement.k, alone.over_enforcement.n) == (int((actioned & benign).sum()), int(benign.sum()))
    assert (alone.leakage.k, alone.leakage.n) == (int((~actioned & ~benign).sum()), int((~benign).sum()))
    assert cascade.held_out_items == len(split.holdout)

"""A reviewer that does not read the policy text (a classifier) is judged once, shown once, marked."""

from __future__ import annotations

from pathlib import Path

import harness
from harness.reporting import render_html, render_markdown

REPO_ROOT = Path(__file__).resolve().parents[2]
ITEMS = REPO_ROOT / "eval_sets" / "quickstart" / "items.csv"


def _experiment(tmp_path: Path, baseline: Path) -> harness.Experiment:
    return harness.parse_experiment({
        "name": "independent",
        "policy": str(REPO_ROOT / "prompts/policies/hate_speech/v2.md"),
        "baseline": str(baseline),
        "eval_set": {"path": str(ITEMS), "columns": {"id": "id", "text": "text", "label": "label",
                                                      "slices": ["tactic"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf-lr", "type": "classifier", "max_features": 2000, "folds": 2}],
        "tracking": {"enabled": False},
    })


def test_classifier_is_judged_once_when_the_versions_share_their_categories(tmp_path: Path) -> None:
    record = harness.run(_experiment(tmp_path, REPO_ROOT / "prompts/policies/hate_speech/v1.md"),
                         out_dir=tmp_path / "out", track=False)
    assert set(record.verdicts["policy"]) == {record.candidate}
    assert record.reviewers["tfidf-lr"].reads_policy is False
    assert record.metrics.baseline is not None and "tfidf-lr" not in record.metrics.baseline.reviewers
    assert "tfidf-lr" not in record.metrics.comparison  # no "change" that is zero by construction
    rows = [line for line in render_markdown(record).splitlines() if "| tfidf-lr" in line and "per 10,000" not in line]
    assert "independent of the policy text" in render_html(record)
    assert any("independent of the policy text" in line for line in rows)
    summary_lines = [line for line in harness_summary(record).splitlines() if "tfidf-lr" in line and "leakage" in line]
    assert len(summary_lines) == 1 and "independent of the policy text" in summary_lines[0]


def test_classifier_is_judged_per_version_when_the_categories_differ(tmp_path: Path) -> None:
    text = (REPO_ROOT / "prompts/policies/hate_speech/v1.md").read_text(encoding="utf-8")
    other = tmp_path / "v1.md"
    other.write_text(text.replace("  - id: HS\n    name: Hate speech\n",
                                  "  - id: HS\n    name: Hate speech\n  - id: VS\n    name: Violent speech\n", 1),
                     encoding="utf-8")
    record = harness.run(_experiment(tmp_path, other), out_dir=tmp_path / "out", track=False)
    assert set(record.verdicts["policy"]) == {record.candidate, record.baseline}
    assert record.metrics.baseline is not None and "tfidf-lr" in record.metrics.baseline.reviewers


def harness_summary(record: harness.RunRecord) -> str:
    from harness.reporting.console import summary

    return summary(record)

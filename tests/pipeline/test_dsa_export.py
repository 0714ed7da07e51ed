"""`export dsa`: a run with known decisions, exported, checked field by field against a hand-built table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from support.llm import V2

import harness
from harness._cli.main import main
from harness.config import parse_experiment
from harness.record.schemas import SCHEMAS
from harness.testing.openai_server import FakeOpenAIServer

# language -> (hateful actioned, hateful allowed, benign actioned, benign allowed); the model actions VIOLATE
COUNTS = {"en": (36, 4, 2, 38), "de": (7, 3, 3, 7)}


def items(path: Path) -> Path:
    rows = []
    for lang, (h_act, h_allow, b_act, b_allow) in COUNTS.items():
        groups = [("hateful", "VIOLATE", h_act), ("hateful", "quiet", h_allow),
                  ("non-hateful", "VIOLATE", b_act), ("non-hateful", "quiet", b_allow)]
        for label, mark, n in groups:
            rows += [(f"{lang}-{label}-{mark}-{i}", f"{lang} {mark} {i}", label, lang) for i in range(n)]
    pd.DataFrame(rows, columns=["id", "text", "label", "language"]).to_csv(path, index=False)
    return path


def figure(k: int, n: int, minimum: int = 30) -> dict[str, Any]:
    low, high = proportion_confint(k, n, method="wilson")
    return {"value": pytest.approx(k / n), "ci_low": pytest.approx(0.0 if k == 0 else low),
            "ci_high": pytest.approx(1.0 if k == n else high), "numerator": k, "sample_size": n,
            "below_minimum_sample": n < minimum}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dsa")
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer() as server:
        mp.setenv("POLICY_HARNESS_CACHE", str(tmp / "cache.sqlite"))
        harness.run(parse_experiment({
            "name": "dsa-run", "policy": str(V2),
            "eval_set": {"path": str(items(tmp / "items.csv")), "columns": {"id": "id", "slices": ["language"]},
                         "labels": {"hateful": "HS", "non-hateful": "benign"}},
            "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": server.base_url}],
        }), out_dir=tmp / "run", track=False)
    return tmp / "run"


def test_export_matches_a_hand_built_table_field_by_field(run_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "dsa", "--from", str(run_dir), "--out", str(tmp_path / "dsa")]) == 0
    assert "figures below the minimum sample of 30, flagged" in capsys.readouterr().out
    data = json.loads((tmp_path / "dsa" / "dsa_export.json").read_text())
    SCHEMAS["dsa"].model.model_validate(data)  # what `policy-harness schema dsa` publishes
    created = json.loads((run_dir / "record.json").read_text())["created_at"][:10]
    assert (data["period_start"], data["period_end"], data["runs"]) == (created, created, ["dsa-run"])
    assert data["policy_versions"] == [{"label": "hate_speech@v2", "title": "Hate speech",
                                        "sha256": json.loads((run_dir / "record.json").read_text())
                                        ["policies"]["hate_speech@v2"]["sha256"]}]
    assert data["minimum_sample"] == 30 and "Wilson" in data["interval"] and "2024/2835" in data["template"]
    assert "1.6" in data["template"] and "Article 42(2)(c)" in data["template"]
    # benign actioned / benign, hateful allowed / hateful, summed over languages
    fp_k, fp_n = sum(c[2] for c in COUNTS.values()), sum(c[2] + c[3] for c in COUNTS.values())
    fn_k, fn_n = sum(c[1] for c in COUNTS.values()), sum(c[0] + c[1] for c in COUNTS.values())
    base = {"run": "dsa-run", "automated_means": "fake", "policy_version": "hate_speech@v2"}
    expected = [
        {**base, "breakdown": "overall", "scope": "all", "accuracy": figure(fp_n + fn_n - fp_k - fn_k, fp_n + fn_n),
         "error_rate": figure(fp_k + fn_k, fp_n + fn_n), "false_positive_rate": figure(fp_k, fp_n),
         "false_negative_rate": figure(fn_k, fn_n)},
        {**base, "breakdown": "category", "scope": "Hate speech",
         "accuracy": figure(fp_n + fn_n - fp_k - fn_k, fp_n + fn_n), "error_rate": figure(fp_k + fn_k, fp_n + fn_n),
         "false_positive_rate": figure(fp_k, fp_n), "false_negative_rate": figure(fn_k, fn_n)},
        {**base, "breakdown": "language", "scope": "de", "accuracy": figure(14, 20), "error_rate": figure(6, 20),
         "false_positive_rate": figure(3, 10), "false_negative_rate": figure(3, 10)},
        {**base, "breakdown": "language", "scope": "en", "accuracy": figure(74, 80), "error_rate": figure(6, 80),
         "false_positive_rate": figure(2, 40), "false_negative_rate": figure(4, 40)},
    ]
    assert data["rows"] == expected
    assert data["rows"][2]["accuracy"]["below_minimum_sample"] and not data["rows"][3]["accuracy"]["below_minimum_sample"]

    with (tmp_path / "dsa" / "dsa_export.csv").open(newline="") as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 4 * 4
    de_fnr = next(x for x in lines if x["scope"] == "de" and x["indicator"] == "false_negative_rate")
    low, high = proportion_confint(3, 10, method="wilson")
    assert de_fnr == {"template_section": "1.6", "period_start": created, "period_end": created, "run": "dsa-run",
                      "automated_means": "fake", "policy_version": "hate_speech@v2", "breakdown": "language",
                      "scope": "de", "indicator": "false_negative_rate", "value": "0.300000",
                      "ci_low": f"{low:.6f}", "ci_high": f"{high:.6f}", "numerator": "3", "sample_size": "10",
                      "below_minimum_sample": "true"}


def test_period_and_minimum_sample_can_be_given(run_dir: Path, tmp_path: Path) -> None:
    assert main(["export", "dsa", "--from", str(run_dir), "--out", str(tmp_path / "d"), "--min-sample", "5",
                 "--period-start", "2026-01-01", "--period-end", "2026-06-30"]) == 0
    data = json.loads((tmp_path / "d" / "dsa_export.json").read_text())
    assert (data["period_start"], data["period_end"]) == ("2026-01-01", "2026-06-30")
    assert not any(r[i]["below_minimum_sample"] for r in data["rows"] for i in ("accuracy", "false_negative_rate"))


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "dsa", "--from", str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "is not a run directory" in line and str(tmp_path) in line

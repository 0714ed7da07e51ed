"""`policy-harness score`: metrics and report from decisions made elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def score(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", "score", *args, "--no-track"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_scores_a_model_and_human_raters_against_gold(tmp_path: Path) -> None:
    (tmp_path / "preds.csv").write_text(
        "id,text,gold,model,rater1,lang\n"
        "1,a,hate,hate,hate,en\n2,b,hate,allow,hate,en\n3,c,benign,hate,benign,de\n"
        "4,d,benign,benign,,de\n5,e,benign,0,benign,en\n", encoding="utf-8")
    result = score(tmp_path, "preds.csv", "--gold", "gold", "--pred", "model", "--pred", "rater1",
                   "--id", "id", "--text", "text", "--slices", "lang", "--out", "out")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    model, rater = metrics["reviewers"]["model"], metrics["reviewers"]["rater1"]
    assert (model["over_enforcement"]["k"], model["over_enforcement"]["n"]) == (1, 3)
    assert (model["leakage"]["k"], model["leakage"]["n"]) == (1, 2)
    # A blank decision is an abstention, not an "allow".
    assert rater["abstained"] == 1 and rater["over_enforcement"]["n"] == 2 and rater["leakage"]["k"] == 0
    assert set(model["slices"]["lang"]) == {"en", "de"}
    assert (tmp_path / "out" / "report.html").exists()


def test_unknown_column_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "preds.csv").write_text("gold,model\nhate,hate\n", encoding="utf-8")
    result = score(tmp_path, "preds.csv", "--gold", "gold", "--pred", "modle")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "modle" in result.stderr and "Traceback" not in result.stderr

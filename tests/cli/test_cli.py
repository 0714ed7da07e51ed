"""The command line, run as a user runs it: `python -m harness ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.policy import load_policy

REPO_ROOT = Path(__file__).resolve().parents[2]
V1 = "prompts/policies/hate_speech/v1.md"
V2 = "prompts/policies/hate_speech/v2.md"
MLFLOW_EXPERIMENT = "policy-harness-tests/cli"


def cli(*args: str, tracking_uri: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], file_name: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{result.stderr}"
    assert lines[0].startswith("error:")
    assert file_name in lines[0]
    return lines[0]


def experiment_yaml(eval_path: str, *, extra: str = "") -> str:
    return f"""\
name: cli-small
policy: {REPO_ROOT / V2}
baseline: {REPO_ROOT / V1}
eval_set:
  path: {eval_path}
  name: hatecheck
  columns: {{id: case_id, text: test_case, label: label_gold, slices: [functionality]}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: tfidf-lr, type: classifier, max_features: 5000}}
gates:
  over_enforcement: {{max: 0.05}}
tracking: {{experiment_name: {MLFLOW_EXPERIMENT}}}
{extra}"""


# --- validate ------------------------------------------------------------------------------

def test_validate_shipped_experiment(shared_data: Path, tmp_path: Path) -> None:
    result = cli("validate", "experiments/hatecheck.yaml", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    assert "hate_speech@v2 vs hate_speech@v1" in result.stdout and "3728 items" in result.stdout


def test_validate_policies(tmp_path: Path) -> None:
    result = cli("validate", V1, V2, tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert result.returncode == 0, result.stderr
    first, first_lint, second, second_lint = result.stdout.strip().splitlines()
    assert first_lint.strip() == f"lint: 0 errors, 2 warnings (policy-harness lint {V1})"
    assert second_lint.strip().startswith("lint: 0 errors")
    assert first.startswith("ok") and "hate_speech@v1" in first and "1 exceptions" in first
    assert second.startswith("ok") and "hate_speech@v2" in second and "6 exceptions" in second


# --- run -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from mlflow.tracking import MlflowClient

    tmp = tmp_path_factory.mktemp("cli_run")
    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    # Keep MLflow artifacts in tmp (its default artifact root is ./mlruns of the working directory).
    MlflowClient(tracking_uri=tracking_uri).create_experiment(
        MLFLOW_EXPERIMENT, artifact_location=(tmp / "artifacts").as_uri())
    experiment = tmp / "small.yaml"
    experiment.write_text(experiment_yaml(str(shared_data / "hatecheck" / "test_suite_cases.csv")), encoding="utf-8")
    out = tmp / "out"
    result = cli("run", str(experiment), "--limit", "200", "--out", str(out), tracking_uri=tracking_uri)
    return {"result": result, "out": out, "tracking_uri": tracking_uri}


def test_run_exits_zero_and_prints_summary(small_run: dict) -> None:
    result = small_run["result"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "200 items" in result.stdout
    assert "over-enforcement" in result.stdout and "leakage" in result.stdout
    assert "gate over_enforcement" in result.stdout


def test_run_metrics_json(small_run: dict) -> None:
    metrics = json.loads((small_run["out"] / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["policy"] == "hate_speech@v2" and metrics["incomplete"] is False
    reviewer = metrics["reviewers"]["tfidf-lr"]
    assert reviewer["items"] == 200 and reviewer["abstained"] == 0
    for name in ("over_enforcement", "leakage"):
        rate = reviewer[name]
        assert set(rate) >= {"rate", "ci_low", "ci_high", "k", "n"}
        assert 0 <= rate["ci_low"] <= rate["rate"] <= rate["ci_high"] <= 1
        assert rate["rate"] == pytest.approx(rate["k"] / rate["n"])
    assert reviewer["over_enforcement"]["n"] == reviewer["benign"]
    assert reviewer["leakage"]["n"] == reviewer["violating"]
    assert reviewer["benign"] + reviewer["violating"] == 200
    # The classifier does not read the policy text and v1 and v2 share their categories: it is judged
    # once, and no "change from baseline" that is zero by construction is reported.
    assert metrics["baseline"]["policy"] == "hate_speech@v1"
    assert "tfidf-lr" not in metrics["baseline"]["reviewers"] and "tfidf-lr" not in metrics["comparison"]
    slices = reviewer["slices"]["functionality"]
    assert len(slices) > 10 and "counter_quote_nh" in slices
    assert sum(s["items"] for s in slices.values()) == 200
    assert all("over_enforcement" in s and "leakage" in s for s in slices.values())
    assert reviewer["gates"][0]["gate"] == "over_enforcement"
    assert reviewer["gates"][0]["status"] in {"pass", "fail", "inconclusive"}


def test_run_verdicts_parquet(small_run: dict) -> None:
    verdicts = pd.read_parquet(small_run["out"] / "verdicts.parquet")
    assert len(verdicts) == 200 * 1 * 1  # items x reviewers x versions (a classifier is judged once)
    assert not verdicts.duplicated(["policy", "reviewer", "item_id"]).any()
    assert set(verdicts["policy"]) == {"hate_speech@v2"}
    assert set(verdicts["reviewer"]) == {"tfidf-lr"}
    assert verdicts["item_id"].nunique() == 200
    assert set(verdicts["gold"]) == {"HS", "benign"}
    assert set(verdicts["decision"]) <= {"actioned", "allowed", "abstained"}
    assert verdicts["text"].notna().all() and "functionality" in verdicts.columns


def test_run_report(small_run: dict) -> None:
    report = small_run["out"] / "report.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    assert "tfidf-lr" in html and "hate_speech" in html


def test_run_is_tracked_in_mlflow(small_run: dict, repo_root: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=small_run["tracking_uri"])
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 1 and len(runs) == 2
    record = json.loads((small_run["out"] / "record.json").read_text(encoding="utf-8"))
    assert record["mlflow"]["parent_run_id"] == parents[0].info.run_id
    assert {c.data.params["policy_sha256"] for c in children} == {load_policy(repo_root / V2).sha256}
    for child in children:
        assert 0 <= child.data.metrics["over_enforcement"] <= 1
        assert "leakage" in child.data.metrics
        assert child.data.params["eval_set_sha256"] == record["evalset"]["sha256"]
        assert child.info.status == "FINISHED"
    assert parents[0].data.params["eval_set_sha256"] == record["evalset"]["sha256"]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["validate", "run"])
def test_malformed_yaml(tmp_path: Path, command: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\npolicy: [unclosed\neval_set: {path: a.csv}\n", encoding="utf-8")
    args = (command, str(path)) + (("--no-track",) if command == "run" else ())
    line = assert_one_line_error(cli(*args, tracking_uri=f"sqlite:///{tmp_path}/m.db"), "broken.yaml")
    assert "line " in line


@pytest.mark.parametrize("command", ["validate", "run"])
def test_unknown_key(tmp_path: Path, command: str) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(experiment_yaml("data.csv").replace("baseline:", "basline:"), encoding="utf-8")
    args = (command, str(path)) + (("--no-track",) if command == "run" else ())
    line = assert_one_line_error(cli(*args, tracking_uri=f"sqlite:///{tmp_path}/m.db"), "typo.yaml")
    assert "Did you mean 'baseline'?" in line


@pytest.mark.parametrize("command", ["validate", "run"])
def test_missing_eval_file(tmp_path: Path, command: str) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(experiment_yaml(str(tmp_path / "no_such_items.csv")), encoding="utf-8")
    args = (command, str(path)) + (("--no-track", "--out", str(tmp_path / "out")) if command == "run" else ())
    line = assert_one_line_error(cli(*args, tracking_uri=f"sqlite:///{tmp_path}/m.db"), "no_such_items.csv")
    assert "not found" in line
    assert not (tmp_path / "out").exists()


def test_missing_experiment_file(tmp_path: Path) -> None:
    result = cli("run", str(tmp_path / "nowhere.yaml"), "--no-track", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert "not found" in assert_one_line_error(result, "nowhere.yaml")


def test_bad_limit(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(experiment_yaml("data.csv"), encoding="utf-8")
    result = cli("run", str(path), "--limit", "0", "--no-track", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert result.returncode == 2 and "--limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "content"), [
    ("broken.jsonl", '{"text": "a", "label": "benign"}\n{"text": "b", "label"\n'),
    ("ragged.csv", "text,label\na,benign\nb,HS,x,y\n"),
])
def test_unreadable_eval_file_is_one_line(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    line = assert_one_line_error(cli("validate", str(path), tracking_uri=f"sqlite:///{tmp_path}/m.db"), name)
    assert "line " in line


@pytest.mark.parametrize("args", [["runs"], ["runs", "--proficiency"], ["portfolio", "--out", "page"]])
def test_runs_in_a_folder_with_no_store_says_so_and_creates_none(tmp_path: Path, args: list[str]) -> None:
    """A lookup never creates the store it looks in: `runs` or `portfolio` from the wrong folder names the file."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, "-m", "harness", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "no MLflow store at mlflow.db" in assert_one_line_error(result, "mlflow.db")
    assert not (tmp_path / "mlflow.db").exists()

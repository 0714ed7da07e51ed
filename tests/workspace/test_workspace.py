"""`policy-harness init` and paths read from the experiment file's folder, from any working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.config import load_experiment, parse_experiment, resolve_path
from harness.errors import HarnessError
from harness.pipeline.run import load_inputs
from harness.reviewers.prompts import builtin_template, load_template, reviewer_template
from harness.workspace import EXPERIMENT_FILE, init_workspace

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONIOENCODING": "utf-8",
           "POLICY_HARNESS_CACHE": str(tmp_path / "cache.sqlite")}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that holds none of the experiment's files."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


# --- init ----------------------------------------------------------------------------------

def test_init_writes_a_workspace_that_validates(tmp_path: Path) -> None:
    written = init_workspace(tmp_path / "new" / "ws")
    names = {p.relative_to(tmp_path / "new" / "ws").as_posix() for p in written}
    assert {"README.md", EXPERIMENT_FILE, "eval_sets/starter.csv", "policies/violent_speech/v1.md"} <= names
    experiment = load_experiment(tmp_path / "new" / "ws" / EXPERIMENT_FILE)
    policy, baseline, evalset = load_inputs(experiment)
    assert policy.label == "violent_speech@v1" and baseline is None
    assert {r.id for r in policy.rules} >= {"VS1", "VS-E2"}
    assert 60 <= len(evalset) <= 100
    assert set(evalset.label_counts) == {"VS", "benign"}
    assert {"tactic", "target"} <= set(evalset.slices)
    assert {"counter_speech", "news", "hyperbole"} <= set(evalset.items["tactic"])


def test_init_policy_passes_lint(tmp_path: Path) -> None:
    from harness.policy.lint import lint_file

    init_workspace(tmp_path / "ws")
    result = lint_file(str(tmp_path / "ws" / "policies" / "violent_speech" / "v1.md"))
    assert not result.findings, result.findings


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("ours", encoding="utf-8")
    result = cli("init", str(tmp_path / "ws"), cwd=tmp_path, tmp_path=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and str(tmp_path / "ws") in line and "not empty" in line
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == ["notes.txt"]


def test_init_into_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    assert init_workspace(tmp_path / "ws")


def test_init_is_listed_in_help(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path, tmp_path=tmp_path)
    assert result.returncode == 0 and "init" in result.stdout


def test_init_validate_run_from_another_working_directory(tmp_path: Path) -> None:
    """The experiment is named by absolute path; the working directory holds none of its files."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert cli("init", str(tmp_path / "ws"), cwd=elsewhere, tmp_path=tmp_path).returncode == 0
    experiment = str(tmp_path / "ws" / EXPERIMENT_FILE)
    validated = cli("validate", experiment, cwd=elsewhere, tmp_path=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.startswith("ok  experiment violent_speech")
    out = tmp_path / "out"
    ran = cli("run", experiment, "--no-track", "--out", str(out), cwd=elsewhere, tmp_path=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "violent_speech@v1" in ran.stdout and "tfidf-lr" in ran.stdout
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["policy"] == "violent_speech@v1"
    assert "violent_speech" in (out / "report.html").read_text(encoding="utf-8")


# --- paths from the experiment file's folder -----------------------------------------------

def test_resolve_path_rules(tmp_path: Path) -> None:
    assert resolve_path("p.md", tmp_path) == tmp_path / "p.md"
    assert resolve_path("../shared/x.csv", tmp_path / "exp") == tmp_path / "shared" / "x.csv"
    assert resolve_path("/abs/p.md", tmp_path) == Path("/abs/p.md")
    assert resolve_path("~/p.md", tmp_path) == Path.home() / "p.md"


def test_relative_paths_ignore_the_working_directory(tmp_path: Path, elsewhere: Path) -> None:
    """A file of the same name in the working directory is never picked up: one way, no fallback."""
    init_workspace(tmp_path / "ws")
    decoy = elsewhere / "policies" / "violent_speech"
    decoy.mkdir(parents=True)
    (decoy / "v1.md").write_text("not a policy", encoding="utf-8")
    policy, _, _ = load_inputs(load_experiment(tmp_path / "ws" / EXPERIMENT_FILE))
    assert Path(policy.path) == tmp_path / "ws" / "policies" / "violent_speech" / "v1.md"


def test_missing_file_error_names_the_resolved_path(tmp_path: Path, elsewhere: Path) -> None:
    init_workspace(tmp_path / "ws")
    path = tmp_path / "ws" / EXPERIMENT_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["eval_set"]["path"] = "eval_sets/missing.csv"
    with pytest.raises(HarnessError) as info:
        load_inputs(parse_experiment(data, path=path))
    assert info.value.path == str(tmp_path / "ws" / "eval_sets" / "missing.csv")
    data["policy"] = "policies/nowhere.md"
    with pytest.raises(HarnessError) as info:
        load_inputs(parse_experiment(data, path=path))
    assert info.value.path == str(tmp_path / "ws" / "policies" / "nowhere.md")


def test_parse_experiment_without_a_path_reads_from_the_working_directory(tmp_path: Path,
                                                                          elsewhere: Path) -> None:
    init_workspace(elsewhere / "ws")
    data = yaml.safe_load((elsewhere / "ws" / EXPERIMENT_FILE).read_text(encoding="utf-8"))
    data["policy"] = "ws/" + data["policy"]
    data["eval_set"]["path"] = "ws/" + data["eval_set"]["path"]
    experiment = parse_experiment(data)
    os.chdir(tmp_path)  # the folder is fixed when the experiment is parsed, not when it is used
    policy, _, evalset = load_inputs(experiment)
    assert Path(policy.path) == elsewhere / "ws" / "policies" / "violent_speech" / "v1.md"
    assert len(evalset) > 0


def test_train_set_is_read_from_the_experiment_folder(tmp_path: Path, elsewhere: Path) -> None:
    from harness.reviewers import build_reviewer, review_sync

    init_workspace(tmp_path / "ws")
    path = tmp_path / "ws" / EXPERIMENT_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reviewers"] = [{"name": "trained", "type": "classifier", "max_features": 500,
                          "train": {"path": "eval_sets/starter.csv", "labels": data["eval_set"]["labels"]}}]
    experiment = parse_experiment(data, path=path)
    policy, _, evalset = load_inputs(experiment)
    reviewer = build_reviewer(experiment.reviewers[0], base_dir=Path(experiment.base_dir))
    verdicts = review_sync(reviewer, evalset.items, policy)
    assert len(verdicts) == len(evalset)


def test_shipped_experiments_validate_from_another_working_directory(tmp_path: Path, shared_data: Path) -> None:
    result = cli("validate", *(str(p) for p in sorted((REPO_ROOT / "experiments").glob("*.yaml"))),
                 cwd=tmp_path, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  experiment") == len(list((REPO_ROOT / "experiments").glob("*.yaml")))


# --- the built-in reviewer prompt -----------------------------------------------------------

def test_llm_reviewer_without_prompt_uses_the_built_in_template(tmp_path: Path, elsewhere: Path) -> None:
    shipped = load_template(REPO_ROOT / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md")
    template = reviewer_template(None, elsewhere)
    assert template == builtin_template()
    assert (template.label, template.sha256, template.system) == (shipped.label, shipped.sha256, shipped.system)
    assert template.path == "builtin:reviewer_v1"


def test_validate_llm_reviewer_without_prompt_outside_the_checkout(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    path = tmp_path / "ws" / EXPERIMENT_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reviewers"].append({"name": "llm", "type": "llm", "model": "openai/gpt-4o-mini"})
    (tmp_path / "ws" / "llm.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    result = cli("validate", str(tmp_path / "ws" / "llm.yaml"), cwd=tmp_path, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_prompt_file_is_read_from_the_experiment_folder(tmp_path: Path, elsewhere: Path) -> None:
    folder = tmp_path / "ws" / "prompts"
    folder.mkdir(parents=True)
    text = (REPO_ROOT / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md").read_text(encoding="utf-8")
    (folder / "ours.md").write_text(text.replace("id: reviewer", "id: ours"), encoding="utf-8")
    assert reviewer_template("prompts/ours.md", tmp_path / "ws").label == "ours@v1"
    with pytest.raises(HarnessError) as info:
        reviewer_template("prompts/theirs.md", tmp_path / "ws")
    assert info.value.path == str(folder / "theirs.md")

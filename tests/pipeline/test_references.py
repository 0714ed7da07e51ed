"""Every name an experiment gives is checked against its policy and eval set by `validate`."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness._cli.main import main

REPO_ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
---
id: small
version: {version}
title: Small test policy
categories:
{categories}
---
# Small policy

## Rules
- **H-1**: Attacks on a protected group.
- **HR-1**: Targeted harassment of a person.

## Exceptions
- **X-1**: Counter-speech that quotes an attack to condemn it.
"""

ROWS = [
    ("1", "you people are vermin", "hateful", "direct", "web", 1, 0),
    ("2", "they should all be thrown out", "hateful", "direct", "app", 1, 0),
    ("3", "saying 'you people are vermin' is vile", "non-hateful", "counter_speech", "web", 0, 0),
    ("4", "calling them vermin is hate, stop it", "non-hateful", "counter_speech", "app", 0, 0),
    ("5", "I will find you and make you cry, Sam", "harass", "threat", "web", 0, 1),
    ("6", "the weather is lovely today", "non-hateful", "neutral", "app", 0, 0),
]


def write_csv(path: Path, rows: list[tuple[Any, ...]] = ROWS) -> None:
    import pandas as pd

    pd.DataFrame(rows, columns=["id", "text", "label", "tactic", "source", "is_hate", "is_harass"]).to_csv(
        path, index=False)


def base_experiment() -> dict[str, Any]:
    return {
        "name": "refs",
        "policy": "v2.md",
        "baseline": "v1.md",
        "eval_set": {"path": "items.csv",
                     "columns": {"id": "id", "text": "text", "label": "label", "slices": ["tactic", "source"]},
                     "labels": {"hateful": "hate", "harass": "harassment", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf", "type": "classifier"}],
        "gates": {"over_enforcement": {"max": 0.05}, "leakage": {"max": 0.1},
                  "over_enforcement@counter": {"max": 0.02, "slice": {"tactic": "counter_speech"}},
                  "leakage@hate": {"max": 0.1, "category": "hate"}},
        "tracking": {"enabled": False},
    }


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    both = "  - {id: hate, name: Hate}\n  - {id: harassment, name: Harassment}"
    (tmp_path / "v2.md").write_text(POLICY.format(version=2, categories=both), encoding="utf-8")
    (tmp_path / "v1.md").write_text(POLICY.format(version=1, categories=both), encoding="utf-8")
    write_csv(tmp_path / "items.csv")
    return tmp_path


def validate(workspace: Path, experiment: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = workspace / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    return code, captured.err if code else captured.out


def one_line_error(code: int, err: str, file_name: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one line:\n{err}"
    assert lines[0].startswith("error:") and file_name in lines[0], lines[0]
    return lines[0]


def test_a_correct_experiment_validates(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(workspace, base_experiment(), capsys)
    assert code == 0, out
    assert out.startswith("ok  experiment refs")


Edit = Callable[[dict[str, Any]], None]


def gate(name: str, **spec: Any) -> Edit:
    def edit(e: dict[str, Any]) -> None:
        e["gates"][name] = {"max": 0.1, **spec}
    return edit


def eval_set(**changes: Any) -> Edit:
    def edit(e: dict[str, Any]) -> None:
        e["eval_set"].update(changes)
    return edit


def no_labels(e: dict[str, Any]) -> None:
    del e["eval_set"]["labels"]


def categories_columns(e: dict[str, Any]) -> None:
    e["eval_set"]["columns"] = {"id": "id", "text": "text", "categories": {"hat": "is_hate", "harassment": "is_harass"}}
    e["eval_set"].pop("labels")


def train_set(e: dict[str, Any]) -> None:
    e["reviewers"][0]["train"] = {"path": "items.csv", "columns": {"id": "id", "text": "text", "label": "label"},
                                  "labels": {"hateful": "hate", "harass": "harasment", "non-hateful": "benign"}}


def injection_without_llm(e: dict[str, Any]) -> None:
    e["injection"] = {"enabled": True}


def empty_reviewer_name(e: dict[str, Any]) -> None:
    e["reviewers"][0]["name"] = "  "


# (what is wrong, edit, words the one-line error must hold: key, bad name, suggestion, choices)
BAD = [
    ("gate category", gate("leakage@h", category="hat"), ["gates.leakage@h.category", "'hat'", "Did you mean 'hate'?",
                                                         "v2.md", "'harassment'"]),
    ("gate slice column", gate("leakage@t", slice={"tactc": "direct"}),
     ["gates.leakage@t.slice", "'tactc'", "Did you mean 'tactic'?", "'source'"]),
    ("gate slice value", gate("over_enforcement@c", slice={"tactic": "counter_speach"}),
     ["gates.over_enforcement@c.slice.tactic", "'counter_speach'", "Did you mean 'counter_speech'?", "'neutral'"]),
    ("gate slice of two columns", gate("leakage@2", slice={"tactic": "direct", "source": "web"}),
     ["gates.leakage@2.slice", "one column"]),
    ("gate with category and slice", gate("leakage@b", category="hate", slice={"tactic": "direct"}),
     ["gates.leakage@b", "both 'category' and 'slice'"]),
    ("gate metric a category does not report", gate("abstention_rate@h", category="hate"),
     ["gates.abstention_rate@h", "per-category gates take over_enforcement or leakage"]),
    ("leakage gate on a slice with no violating items", gate("leakage@c", slice={"tactic": "counter_speech"}),
     ["gates.leakage@c", "no violating items with tactic = counter_speech"]),
    ("label mapping target", eval_set(labels={"hateful": "hat", "harass": "harassment", "non-hateful": "benign"}),
     ["eval_set.labels.hateful", "'hat'", "Did you mean 'hate'?", "'benign'", "'unknown'"]),
    ("unmapped gold label", no_labels, ["eval_set", "'harass' on item '5'", "Fix the data", "Did you mean 'harassment'?", "eval_set.labels"]),
    ("category column of no category", categories_columns,
     ["eval_set.columns.categories", "'hat'", "Did you mean 'hate'?"]),
    ("slice_labels column", eval_set(slice_labels={"tactik": {"direct": "Direct"}}),
     ["eval_set.slice_labels", "'tactik'", "Did you mean 'tactic'?"]),
    ("slice_labels value", eval_set(slice_labels={"tactic": {"threats": "Threat"}}),
     ["eval_set.slice_labels.tactic", "'threats'", "Did you mean 'threat'?"]),
    ("strata size of no stratum", eval_set(strata={"column": "source", "sizes": {"web": 1000, "app": 50, "apps": 5}}),
     ["eval_set.strata.sizes", "'apps'", "Did you mean 'app'?", "'web'"]),
    ("prevalence category", eval_set(prevalence={"hat": 0.01}),
     ["eval_set.prevalence", "'hat'", "Did you mean 'hate'?"]),
    ("train set label mapping", train_set,
     ["reviewers[0].train.labels.harass", "'harasment'", "Did you mean 'harassment'?"]),
    ("injection without an LLM reviewer", injection_without_llm, ["injection.enabled", "no", "LLM reviewer"]),
    ("blank reviewer name", empty_reviewer_name, ["reviewers[0].name"]),
]


@pytest.mark.parametrize(("edit", "expected"), [(e, x) for _, e, x in BAD], ids=[name for name, _, _ in BAD])
def test_a_name_that_refers_to_nothing_is_one_line_with_a_suggestion(
        workspace: Path, capsys: pytest.CaptureFixture[str], edit: Edit, expected: list[str]) -> None:
    experiment = copy.deepcopy(base_experiment())
    edit(experiment)
    line = one_line_error(*validate(workspace, experiment, capsys), "exp.yaml")
    for words in expected:
        assert words in line, f"{words!r} not in: {line}"


def test_a_category_the_baseline_lacks_names_the_baseline(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "v1.md").write_text(POLICY.format(version=1, categories="  - {id: hate, name: Hate}\n"
                                                   "  - {id: harass, name: Harassment}"), encoding="utf-8")
    experiment = base_experiment()
    experiment["eval_set"]["labels"]["harass"] = "hate"
    experiment["gates"]["leakage@hr"] = {"max": 0.1, "category": "harassment"}
    line = one_line_error(*validate(workspace, experiment, capsys), "exp.yaml")
    assert "gates.leakage@hr.category" in line and "v1.md" in line and "'harass'" in line


def test_a_misspelled_column_suggests_the_real_one(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    experiment = base_experiment()
    experiment["eval_set"]["columns"]["text"] = "txt"
    line = one_line_error(*validate(workspace, experiment, capsys), "items.csv")
    assert "'txt'" in line and "columns.text" in line and "Did you mean 'text'?" in line


def test_a_hostile_slice_value_is_shown_on_one_line(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    experiment = base_experiment()
    experiment["gates"]["over_enforcement@x"] = {"max": 0.1, "slice": {"tactic": "a\nb\x00c"}}
    line = one_line_error(*validate(workspace, experiment, capsys), "exp.yaml")
    assert "a\\nb\\x00c" in line


def test_the_installed_command_refuses_a_misspelled_gate_category(workspace: Path) -> None:
    experiment = base_experiment()
    experiment["gates"]["leakage@h"] = {"max": 0.1, "category": "hat"}
    path = workspace / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment), encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "harness", "validate", str(path)], cwd=workspace, env=env,
                            capture_output=True, text=True, timeout=300)
    line = one_line_error(result.returncode, result.stderr, "exp.yaml")
    assert "Traceback" not in result.stderr and "Did you mean 'hate'?" in line


def test_run_refuses_a_bad_reference_before_any_reviewer_is_built(workspace: Path) -> None:
    from harness import run
    from harness.config import load_experiment
    from harness.errors import HarnessError

    experiment = base_experiment()
    # An LLM reviewer pointed at a port nothing listens on: reaching it would be a provider error.
    experiment["reviewers"].append({"name": "llm", "type": "llm", "model": "openai/x", "api_base": "http://127.0.0.1:9",
                                    "api_key_env": "POLICY_HARNESS_TEST_NO_SUCH_KEY"})
    experiment["gates"]["leakage@h"] = {"max": 0.1, "category": "hat"}
    path = workspace / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment), encoding="utf-8")
    with pytest.raises(HarnessError) as info:
        run(load_experiment(path), out_dir=workspace / "out", track=False, report=False)
    assert "gates.leakage@h.category" in str(info.value) and str(path) in str(info.value)
    assert not (workspace / "out").exists()


def test_a_misspelled_annotator_column_suggests_the_real_one(workspace: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    experiment = base_experiment()
    experiment["eval_set"]["columns"] = {"id": "id", "text": "text", "annotators": ["is_hate", "is_harras"]}
    experiment["eval_set"]["labels"] = {"1": "hate", "0": "benign"}
    line = one_line_error(*validate(workspace, experiment, capsys), "items.csv")
    assert "'is_harras'" in line and "eval_set.columns.annotators" in line and "Did you mean 'is_harass'?" in line


def test_a_baseline_with_the_candidates_id_and_version_is_refused_by_validate_and_run(
        workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two policies labelled small@v2 used to crash `run` with a pandas MergeError traceback."""
    both = "  - {id: hate, name: Hate}\n  - {id: harassment, name: Harassment}"
    (workspace / "v1.md").write_text(POLICY.format(version=2, categories=both), encoding="utf-8")
    line = one_line_error(*validate(workspace, base_experiment(), capsys), "exp.yaml")
    assert "v2.md" in line and "v1.md" in line and "small@v2" in line and "bump 'version'" in line
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "harness", "run", str(workspace / "exp.yaml"), "--out",
                             str(workspace / "out")], cwd=workspace, env=env, capture_output=True, text=True,
                            timeout=300)
    assert one_line_error(result.returncode, result.stderr, "exp.yaml") == line
    assert not (workspace / "out").exists()

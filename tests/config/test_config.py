"""Experiment YAML -> typed config: strict keys, helpful messages, every error names the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import ClassifierReviewerConfig, Experiment, load_experiment
from harness.errors import HarnessError

VALID = """\
name: demo
policy: prompts/policies/hate_speech/v2.md
baseline: prompts/policies/hate_speech/v1.md
eval_set:
  path: data/items.csv
  columns: {id: case_id, text: test_case, label: label_gold, slices: [functionality]}
  labels: {hateful: HS, non-hateful: benign}
reviewers:
  - {name: tfidf-lr, type: classifier, threshold: 0.6}
gates:
  over_enforcement: {max: 0.05}
  leakage@HS: {max: 0.1, category: HS}
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, name: str = "exp.yaml") -> str:
    path = write(tmp_path, text, name)
    with pytest.raises(HarnessError) as info:
        load_experiment(path)
    message = str(info.value)
    assert name in message, f"error does not name the file: {message}"
    return message


def test_valid_experiment_loads(tmp_path: Path) -> None:
    experiment = load_experiment(write(tmp_path, VALID))
    assert isinstance(experiment, Experiment)
    assert experiment.name == "demo"
    assert experiment.eval_set.columns.text == "test_case"
    assert experiment.eval_set.columns.slices == ["functionality"]
    assert experiment.eval_set.labels == {"hateful": "HS", "non-hateful": "benign"}
    [reviewer] = experiment.reviewers
    assert isinstance(reviewer, ClassifierReviewerConfig)
    assert reviewer.threshold == 0.6 and reviewer.folds == 5
    assert experiment.gates["over_enforcement"].max == 0.05
    assert experiment.gates["leakage@HS"].category == "HS"
    assert Path(experiment.base_dir) == tmp_path


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    experiment = load_experiment(write(tmp_path, VALID.replace("name: demo\n", ""), "my-exp.yaml"))
    assert experiment.name == "my-exp"


def test_shipped_experiment_loads(repo_root: Path) -> None:
    experiment = load_experiment(repo_root / "experiments" / "hatecheck.yaml")
    assert experiment.baseline and experiment.policy.endswith("v2.md")
    assert [r.name for r in experiment.reviewers] == ["tfidf-lr"]


def test_yaml_int_label_keys_become_text(tmp_path: Path) -> None:
    text = VALID.replace("labels: {hateful: HS, non-hateful: benign}", "labels: {0: HS, 1: benign, 2: benign}")
    experiment = load_experiment(write(tmp_path, text))
    assert experiment.eval_set.labels == {"0": "HS", "1": "benign", "2": "benign"}


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("reviewers:", "reviewres:"))
    assert "reviewres" in message
    assert "Did you mean 'reviewers'?" in message


def test_unknown_optional_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("baseline:", "basline:"))
    assert "basline" in message
    assert "Did you mean 'baseline'?" in message


def test_misspelled_key_inside_a_reviewer_suggests_the_right_one(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("threshold: 0.6", "thresold: 0.6"))
    assert "thresold" in message
    assert "Did you mean 'threshold'?" in message


def test_misspelled_key_inside_columns_suggests_the_right_one(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("label: label_gold", "lable: label_gold"))
    assert "Did you mean 'label'?" in message


def test_wrong_type_is_rejected_with_the_value(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("threshold: 0.6", "threshold: high"))
    assert "threshold" in message
    assert "'high'" in message


def test_out_of_range_value_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("threshold: 0.6", "threshold: 1.5"))
    assert "threshold" in message and "1.5" in message


def test_unknown_reviewer_type(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("type: classifier", "type: clasifier"))
    assert "clasifier" in message
    assert "Did you mean 'classifier'?" in message


def test_reviewer_without_type(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace(", type: classifier", ""))
    assert "type" in message


def test_duplicate_reviewer_names(tmp_path: Path) -> None:
    text = VALID.replace("gates:", "  - {name: tfidf-lr, type: classifier}\ngates:")
    message = load_error(tmp_path, text)
    assert "unique" in message and "tfidf-lr" in message


def test_unknown_gate_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("over_enforcement: {max", "over_enforcment: {max"))
    assert "over_enforcment" in message
    assert "Did you mean 'over_enforcement'?" in message


def test_gate_without_bound(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("over_enforcement: {max: 0.05}", "over_enforcement: {}"))
    assert "max" in message and "min" in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("policy: prompts/policies/hate_speech/v2.md\n", ""))
    assert "missing required key 'policy'" in message


def test_train_and_model_uri_together_rejected(tmp_path: Path) -> None:
    text = VALID.replace("threshold: 0.6", "model_uri: 'runs:/x/model', train: {path: t.csv}")
    message = load_error(tmp_path, text)
    assert "train" in message and "model_uri" in message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    text = VALID.replace("  path: data/items.csv", "  path: [data/items.csv")
    message = load_error(tmp_path, text)
    assert "not valid YAML" in message
    assert "line " in message
    line = int(message.split("line ", 1)[1].split(",", 1)[0])
    assert 5 <= line <= 7, message  # the unclosed bracket on line 5 is reported where YAML notices it


def test_tab_indentation_names_the_line(tmp_path: Path) -> None:
    lines = VALID.splitlines()
    lines[4] = "\tpath: data/items.csv"
    message = load_error(tmp_path, "\n".join(lines) + "\n")
    assert "line 5" in message


def test_not_a_mapping(tmp_path: Path) -> None:
    message = load_error(tmp_path, "- just\n- a list\n")
    assert "mapping" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(HarnessError) as info:
        load_experiment(path)
    assert "nope.yaml" in str(info.value)
    assert "not found" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(VALID.replace("demo", "d\xe9mo").encode("latin-1"))
    with pytest.raises(HarnessError) as info:
        load_experiment(path)
    assert "latin.yaml" in str(info.value) and "UTF-8" in str(info.value)


def test_a_local_model_file_is_read_from_the_experiment_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config import parse_experiment
    from harness.providers.local_model import gguf_path

    folder = tmp_path / "workspace"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "tiny.gguf").write_bytes(b"GGUF")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = {"name": "x", "policy": "p.md", "eval_set": {"path": "items.csv"},
            "reviewers": [{"name": "m", "type": "llm", "model": "local/models/tiny.gguf"},
                          {"name": "named", "type": "llm", "model": "local/smollm2"}],
            "author": {"model": "local/models/tiny.gguf"}}
    experiment = parse_experiment(data, path=folder / "exp.yaml")
    local, named = experiment.reviewers
    assert gguf_path(local.model) == folder / "models" / "tiny.gguf"
    assert experiment.author is not None and gguf_path(experiment.author.model) == folder / "models" / "tiny.gguf"
    assert named.model == "local/smollm2"

    missing = parse_experiment({**data, "author": None, "reviewers": [{"name": "m", "type": "llm",
                                                                       "model": "local/models/gone.gguf"}]},
                               path=folder / "exp.yaml")
    with pytest.raises(HarnessError, match="gone.gguf does not exist"):
        gguf_path(missing.reviewers[0].model)


def test_a_tab_in_the_indentation_says_to_use_spaces(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("  - {name: tfidf-lr", "\t- {name: tfidf-lr"))
    assert "not valid YAML at line 9" in message and "indent with spaces, not tabs" in message


def test_traces_default_to_all_and_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config.experiment import TraceSample, TrackingConfig

    monkeypatch.delenv("POLICY_HARNESS_TRACES", raising=False)
    assert TrackingConfig().traces == "all"
    monkeypatch.setenv("POLICY_HARNESS_TRACES", "none")
    assert TrackingConfig().traces == "none" and TrackingConfig(traces="all").traces == "all"
    monkeypatch.setenv("POLICY_HARNESS_TRACES", "250")
    assert TrackingConfig().traces == TraceSample(sample=250)
    monkeypatch.setenv("POLICY_HARNESS_TRACES", "some")
    with pytest.raises(HarnessError, match="POLICY_HARNESS_TRACES='some' is not a trace setting"):
        TrackingConfig()

"""Names from files (experiment, reviewer, policy ids, slice values) never become a path outside its folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from harness._util.safe_names import MAX_BYTES, child_path, safe_name

HOSTILE = ["../../etc/x", "/abs", "/", "a/b", "a\\b", "..", ".", "...", "con", "CON.txt", "lpt1", "nul.tar.gz",
           "x\x00y", "line\nbreak", "tab\there", "\r\n", "", "   ", "-", ".hidden", "C:\\Windows\\x", "~/x",
           "a" * 300, "é" * 200, "名前/../秘密", "\u202eevil\u202d", "emoji 🔥 name", "a:b*c?d\"e<f>g|h"]


@pytest.mark.parametrize("name", HOSTILE, ids=[repr(n)[:30] for n in HOSTILE])
def test_a_hostile_name_becomes_one_harmless_path_component(tmp_path: Path, name: str) -> None:
    safe = safe_name(name)
    assert safe and safe not in (".", "..") and not safe.startswith(".")
    assert not set(safe) & set("/\\\x00\n\r\t:*?\"<>|~ ")
    assert len(safe.encode("utf-8")) <= MAX_BYTES
    assert safe.split(".", 1)[0].lower() not in ("con", "prn", "aux", "nul", "lpt1")
    path = child_path(tmp_path, name)
    path.mkdir()  # the file system takes it, and it lands where it was meant to
    assert path.resolve().parent == tmp_path.resolve()


def test_readable_names_stay_readable() -> None:
    assert safe_name("quickstart-20250101-120000") == "quickstart-20250101-120000"
    assert safe_name("hate_speech v2") == "hate_speech_v2"
    assert safe_name("名前") == "名前"
    assert safe_name("policy-../../x-v1") == "policy-.._.._x-v1"


def test_long_names_that_differ_only_at_the_end_stay_apart() -> None:
    a, b = safe_name("x" * 300 + "a"), safe_name("x" * 300 + "b")
    assert a != b and len(a.encode()) <= MAX_BYTES and len(b.encode()) <= MAX_BYTES


def test_child_path_joins_several_names_inside_the_folder(tmp_path: Path) -> None:
    path = child_path(tmp_path, "../up", "..", suffix=".md")
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.name.endswith(".md") and path.parent.parent == tmp_path


def test_default_output_folder_stays_in_reports() -> None:
    from harness.pipeline.finish import DEFAULT_REPORTS, default_out_dir

    started = dt.datetime(2025, 1, 2, 3, 4, 5)
    for name in HOSTILE:
        out = default_out_dir(name, started)
        assert out.parent == DEFAULT_REPORTS, (name, out)
        assert out.name.endswith("20250102-030405")


def test_mlflow_artifact_folder_stays_beside_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.tracking import artifact_location

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    root = (tmp_path / "mlartifacts").resolve()
    for name in ("..", "../../etc", "a/b", "x\x00y"):
        location = artifact_location(name)
        assert location is not None
        assert Path(location.removeprefix("file://")).parent == root, (name, location)


def test_a_run_with_hostile_names_writes_only_inside_its_folders(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Experiment name, reviewer name and slice values that look like paths: the run writes into
    reports/ and the MLflow store beside it, and MLflow accepts every metric name."""
    import pandas as pd

    from harness import run
    from harness.config import load_experiment

    work = tmp_path / "work"
    work.mkdir()
    policy = (Path(__file__).resolve().parents[2] / "prompts" / "policies" / "hate_speech" / "v2.md")
    rows = [(f"i{n}", f"{word} text number {n}", label, slice_value)
            for n, (word, label, slice_value) in enumerate(
                [("vermin", "hateful", "../../escape"), ("lovely", "non-hateful", "a//b"),
                 ("scum", "hateful", "/abs"), ("sunny", "non-hateful", ".."),
                 ("filth", "hateful", "../../escape"), ("kind", "non-hateful", "a//b")] * 4)]
    pd.DataFrame(rows, columns=["id", "text", "label", "group"]).to_csv(work / "items.csv", index=False)
    experiment = {"name": "../../outside", "policy": str(policy),
                  "eval_set": {"path": "items.csv", "columns": {"id": "id", "slices": ["group"]},
                               "labels": {"hateful": "HS", "non-hateful": "benign"}},
                  "reviewers": [{"name": "../rev/..", "type": "classifier", "folds": 2, "max_features": 100}],
                  "tracking": {"experiment_name": "../../mlflow-outside"}}
    (work / "exp.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work}/mlflow.db")
    record = run(load_experiment(work / "exp.yaml"))
    assert record.mlflow.synced, "MLflow refused a name built from the data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"], "something was written outside the work folder"
    outside = {p.name for p in work.iterdir()} - {"exp.yaml", "items.csv", "reports", "mlflow.db", "mlartifacts", ".cache"}
    assert not outside, outside
    (out,) = (work / "reports").iterdir()
    assert out.name.startswith("outside-") and (out / "record.json").exists()
    assert [p.name for p in (work / "mlartifacts").iterdir()] == ["mlflow-outside"]
    _a_record_naming_a_file_outside_its_folder_is_refused(out, tmp_path / "tampered")


def _a_record_naming_a_file_outside_its_folder_is_refused(run_dir: Path, scratch: Path) -> None:
    import hashlib
    import json
    import shutil

    from support.records import NOT_A_RECORD

    from harness.errors import HarnessError
    from harness.record import read_record

    scratch.mkdir()
    (scratch / NOT_A_RECORD).touch()
    copy = scratch / "run"
    shutil.copytree(run_dir, copy)
    secret = scratch / "secret.txt"
    secret.write_text("outside", encoding="utf-8")
    record = json.loads((copy / "record.json").read_text(encoding="utf-8"))
    record["files"]["../secret.txt"] = hashlib.sha256(secret.read_bytes()).hexdigest()
    (copy / "record.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(HarnessError, match="not a file of this run directory"):
        read_record(copy)

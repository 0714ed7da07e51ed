"""The record's published schema: `policy-harness schema`, typed read-back, and refusal of other versions."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from support.records import NOT_A_RECORD, scored_run

from harness._cli.main import main
from harness.errors import HarnessError
from harness.record import METRICS, RECORD, SCHEMA_VERSION, Metrics, read_record


def schema_from_cli(name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["schema", name]) == 0
    schema: dict[str, object] = json.loads(capsys.readouterr().out)
    return schema


def test_schema_command_prints_schemas_the_written_files_validate_against(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = scored_run(tmp_path)
    for name, file in (("metrics", METRICS), ("record", RECORD)):
        schema = schema_from_cli(name, capsys)
        jsonschema.Draft202012Validator.check_schema(schema)
        document = json.loads((out / file).read_text(encoding="utf-8"))
        assert document["schema_version"] == SCHEMA_VERSION
        jsonschema.validate(document, schema)
    metrics = schema_from_cli("metrics", capsys)
    assert metrics["additionalProperties"] is False  # an unknown key is a schema error, not ignored
    assert "over_enforcement" in json.dumps(metrics["$defs"]["ReviewerMetrics"])


def test_schema_rejects_a_renamed_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = scored_run(tmp_path)
    document = json.loads((out / METRICS).read_text(encoding="utf-8"))
    reviewer = document["reviewers"]["model"]
    reviewer["overenforcement"] = reviewer.pop("over_enforcement")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema_from_cli("metrics", capsys))


def test_a_record_reads_back_into_the_typed_models(tmp_path: Path) -> None:
    record, out = scored_run(tmp_path)
    again = read_record(out)
    assert isinstance(again.metrics, Metrics)
    assert again.metrics == record.metrics
    model = again.metrics.reviewers["model"]
    assert (model.over_enforcement.k, model.over_enforcement.n) == (1, 3)
    assert (model.leakage.k, model.leakage.n) == (1, 3)
    assert set(model.slices["lang"]) == {"x", "y"}
    assert again.metrics.prediction_powered is not None and again.metrics.prediction_powered["model"].unlabelled == 3
    assert again.evalset.items == 6 and again.policies[again.candidate].id == "external"


@pytest.mark.parametrize("file", [METRICS, RECORD])
def test_another_schema_version_is_one_plain_error_naming_the_file(
        tmp_path: Path, file: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = scored_run(tmp_path)
    (out / NOT_A_RECORD).touch()
    path = out / file
    document = json.loads(path.read_text(encoding="utf-8"))
    document["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(document), encoding="utf-8")
    if file == METRICS:  # keep record.json's checksum right, so the version is what is refused
        _rehash(out)
    with pytest.raises(HarnessError, match=f"schema version {SCHEMA_VERSION + 1}; this policy-harness reads "
                                           f"version {SCHEMA_VERSION}. Re-run the experiment"):
        read_record(out)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: was written with record schema version") and err.count("\n") == 1


def test_a_file_that_does_not_validate_names_the_field(tmp_path: Path) -> None:
    _, out = scored_run(tmp_path)
    (out / NOT_A_RECORD).touch()
    document = json.loads((out / METRICS).read_text(encoding="utf-8"))
    del document["reviewers"]["model"]["leakage"]
    (out / METRICS).write_text(json.dumps(document), encoding="utf-8")
    _rehash(out)
    with pytest.raises(HarnessError, match=r"metrics.json: does not match the record schema at "
                                           r"reviewers\.model\.leakage \(Field required\)"):
        read_record(out)


def _rehash(out: Path) -> None:
    import hashlib

    header = json.loads((out / RECORD).read_text(encoding="utf-8"))
    header["files"][METRICS] = hashlib.sha256((out / METRICS).read_bytes()).hexdigest()
    (out / RECORD).write_text(json.dumps(header), encoding="utf-8")


def test_every_written_json_file_has_a_valid_schema_naming_its_version() -> None:
    from harness.record import SCHEMAS, json_schema, schema_listing

    assert {"metrics", "record", "compare", "diagnosis", "revise", "quiz", "proficiency", "portfolio"} <= set(SCHEMAS)
    listing = schema_listing().splitlines()
    for (name, entry), line in zip(SCHEMAS.items(), listing, strict=True):
        schema = json_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert "schema_version" in schema["properties"], f"{entry.file} carries no schema_version"
        assert entry.file in schema["$comment"] and line.split()[:2] == [name, entry.file]


def test_an_unknown_schema_name_lists_the_names() -> None:
    from harness.record import json_schema

    with pytest.raises(HarnessError, match="portfolio"):
        json_schema("grades")


def test_files_written_before_they_carried_a_schema_version_still_read() -> None:
    from harness.record.comparison import ComparisonResult
    from harness.record.diagnosis import Diagnosis

    compare = ComparisonResult.model_validate({"a": {"source": "x", "label": "a"}, "b": {"source": "y", "label": "b"},
                                               "created_at": "2026-01-01T00:00:00", "reviewers": {}})
    diagnosis = Diagnosis.model_validate({"run": "r", "run_dir": "", "candidate": "p@v1", "baseline": None,
                                          "slices": [], "groups": []})
    assert compare.schema_version == 1 and diagnosis.schema_version == 1

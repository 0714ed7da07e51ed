"""`compare A B`: compare.json is the typed ComparisonResult, and the page and CLI read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from harness._cli.main import main
from harness.metrics.paired import paired_change
from harness.pipeline.compare import compare, write_comparison
from harness.pipeline.score import score_file
from harness.record import ComparisonResult, GateResult, PairedChange, read_record, write_record
from harness.reporting.compare import change_text

# id, text, gold, decision, slice. B drops "e", adds "f", edits c's text and relabels d.
BEFORE = [("a", "one", "HS", "HS", "x"), ("b", "two", "benign", "HS", "x"), ("c", "three", "benign", "benign", "y"),
          ("d", "four", "HS", "benign", "y"), ("e", "five", "HS", "HS", "y")]
AFTER = [("a", "one", "HS", "benign", "x"), ("b", "two", "benign", "benign", "x"), ("c", "three!", "benign", "benign", "y"),
         ("d", "four", "benign", "HS", "y"), ("f", "six", "HS", "HS", "y")]


def scored(tmp_path: Path, name: str, rows: list[tuple[str, ...]]) -> str:
    """A real run directory: the rows' decisions scored against their gold by reviewer 'model'."""
    source = tmp_path / f"{name}.csv"
    source.write_text("id,text,gold,model,lang\n" + "".join(f"{','.join(r)}\n" for r in rows), encoding="utf-8")
    record = score_file(str(source), gold="gold", preds=["model"], slices=["lang"], id_column="id", text_column="text")
    write_record(record, tmp_path / name)
    return str(tmp_path / name)


def test_compare_json_is_the_typed_result_and_reads_back_equal(tmp_path: Path) -> None:
    result = compare(scored(tmp_path, "a", BEFORE), scored(tmp_path, "b", AFTER))
    write_comparison(result, tmp_path / "cmp")
    document = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert ComparisonResult.model_validate(document) == result
    model = result.reviewers["model"]
    assert model.coverage.model_dump() == {"common": 4, "only_in_a": 1, "only_in_b": 1, "text_changed": 1,
                                           "gold_changed": 1}
    assert (model.items, model.fixed.total, model.broken.total) == (4, 2, 1)
    assert {f.item_id: f.slice_value("lang") for f in model.flips} == {"a": "x", "b": "x", "d": "y"}
    # Only per-slice changes are adjusted for the number of slices tested; the headline change is not.
    assert document["reviewers"]["model"]["leakage_change"]["p_adjusted"] is None
    assert "p_adjusted" in document["reviewers"]["model"]["slices"]["lang"]["x"]["leakage_change"]
    assert set(document["reviewers"]["model"]["slices"]) == {"lang"}  # gold_unknown and row counts are no slices


def test_a_renamed_field_fails_the_model_and_the_published_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_comparison(compare(scored(tmp_path, "a", BEFORE), scored(tmp_path, "b", AFTER)), tmp_path / "cmp")
    document = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert main(["schema", "compare"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema)
    coverage = document["reviewers"]["model"]["coverage"]
    coverage["only_in_A"] = coverage.pop("only_in_a")
    with pytest.raises(ValidationError, match="only_in_a"):
        ComparisonResult.model_validate(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_cli_prints_the_changes_and_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = scored(tmp_path, "a", BEFORE), scored(tmp_path, "b", AFTER)
    assert main(["compare", a, b, "--out", str(tmp_path / "cmp"), "--no-track"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("a (external@v1) -> b (external@v1)\n")
    assert "note: model: compared on the 4 items both runs judged (1 only in A, 1 only in B)" in out
    assert "note: model: 1 item changed text and 1 changed gold label between the runs" in out
    assert "model: over-enforcement 50.0% → 0.0% (-50.0%, 95% CI [" in out
    assert "model: 3 flipped verdicts, fixed 2, broken 1" in out
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "<h1>a (external@v1) → b (external@v1)</h1>" in page
    assert "<td>accuracy</td><td>fixed 2, broken 1, McNemar exact p = 1</td>" in page
    assert "<tr><td>d</td><td>four</td><td>HS</td><td>allowed</td><td>actioned</td></tr>" in page


def test_a_change_with_no_decided_pair_says_so() -> None:
    assert change_text(PairedChange.model_validate(paired_change(0, 0, 0, 0))) == "no paired decided items"


@pytest.mark.parametrize("typo", ["../reports/nope", "nope", "0123456789abcdef0123456789abcdef"])
def test_a_typo_is_one_line_and_leaves_no_store_behind(tmp_path: Path, typo: str) -> None:
    """A missing directory, a malformed id or a well-formed id with no store: exit 2, one line, no mlflow.db."""
    a = scored(tmp_path, "a", BEFORE)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run([sys.executable, "-m", "harness", "compare", a, typo], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Creating initial MLflow" not in done.stderr
    assert not (work / "mlflow.db").exists()
    assert (f"no run directory {typo}" in done.stderr if "/" in typo else
            "no MLflow store at mlflow.db" in done.stderr if len(typo) == 32 else "32 hex characters" in done.stderr)


def test_one_flip_and_one_item_are_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'1 flipped verdicts' and 'the 1 items' read as a bug; one is singular."""
    before = [("a", "one", "HS", "HS", "x"), ("b", "two", "benign", "benign", "x")]
    after = [("a", "one", "HS", "benign", "x"), ("c", "three", "benign", "benign", "x")]
    a, b = scored(tmp_path, "a", before), scored(tmp_path, "b", after)
    assert main(["compare", a, b, "--out", str(tmp_path / "cmp"), "--no-track"]) == 0
    out = capsys.readouterr().out
    assert "model: 1 flipped verdict, fixed" in out
    assert "compared on the 1 item both runs judged" in out


def test_the_page_has_the_report_style_the_runs_and_says_when_nothing_flipped(tmp_path: Path) -> None:
    """An unstyled page with an empty table read as unfinished: style, both runs, a sentence instead."""
    a, b = scored(tmp_path, "a", BEFORE), scored(tmp_path, "b", BEFORE)
    assert main(["compare", a, b, "--out", str(tmp_path / "cmp"), "--no-track"]) == 0
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "--pass-bg" in page and "<h2>Runs</h2>" in page  # report.css, and a table of A and B
    for side in (a, b):
        assert f"<td>{side}</td>" in page
    assert page.count("<td>external@v1</td>") == 2  # the policy version of each run
    assert "No item changed decision." in page and "<th>before (A)</th>" not in page
    # 'score' reads decisions from a file: they do not depend on the policy text, and the page says so.
    assert "does not read the policy text" in page
    result = ComparisonResult.model_validate_json((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert result.a.policy == "external@v1" and result.reviewers["model"].reads_policy is False


def test_the_page_shows_each_runs_gates_before_and_after(tmp_path: Path) -> None:
    a, b = scored(tmp_path, "a", BEFORE), scored(tmp_path, "b", AFTER)
    for run, status in ((a, "fail"), (b, "pass")):  # a gate on leakage, as an experiment's `gates:` would set
        record = read_record(Path(run))
        m = record.metrics.reviewers["model"]
        m.gates = [GateResult(gate="leakage", metric="leakage", scope="overall", max=0.05, min=None,
                              value=m.leakage, status=status)]
        write_record(record, Path(run))
    result = compare(a, b)
    write_comparison(result, tmp_path / "cmp")
    gates_a, gates_b = result.reviewers["model"].gates_a, result.reviewers["model"].gates_b
    assert gates_a is not None and gates_b is not None
    assert [g.status for g in gates_a] == ["fail"] and [g.status for g in gates_b] == ["pass"]
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "Launch gates, before and after" in page and "≤ 5.0%" in page
    assert page.index('<span class="pill fail">fail</span>') < page.index('<span class="pill pass">pass</span>')

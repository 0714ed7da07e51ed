"""The report only renders: given a record, it computes nothing (every metric, count and cluster was
computed in the metrics stage and is kept in the record)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from support.record_factory import build_record

from harness.record import RunRecord, read_record, write_record
from harness.reporting import render_html, render_markdown, write_reports

GOLDEN = Path(__file__).parent / "golden" / "report.md"


def block_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every function of harness.metrics (wherever a harness.metrics module bound it) raises."""
    def computed(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report computed with harness.metrics")

    for name, module in list(sys.modules.items()):
        if not name.startswith("harness.metrics") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if inspect.isfunction(value) and value.__module__.startswith("harness.metrics"):
                monkeypatch.setattr(module, attr, computed)


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return build_record()


def test_the_report_renders_from_the_record_without_harness_metrics(
        record: RunRecord, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.metrics.errors
    import harness.metrics.samples  # noqa: F401

    block_metrics(monkeypatch)
    assert render_markdown(record) == GOLDEN.read_text(encoding="utf-8")
    html = render_html(record)
    assert '<section id="diagnosis">' in html and "false positives" in html


def test_a_stored_run_re_renders_from_its_files_without_harness_metrics(
        record: RunRecord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_record(record, tmp_path)
    block_metrics(monkeypatch)
    stored = read_record(tmp_path)
    assert stored.metrics.errors == record.metrics.errors
    assert write_reports(stored, tmp_path).is_file()
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")


def test_a_run_directory_written_before_metrics_counted_errors_re_renders(
        record: RunRecord, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`policy-harness report DIR` on a run whose metrics.json has no `errors` block (older versions)."""
    import hashlib
    import json

    from harness._cli.main import main

    write_record(record, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    del metrics["errors"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    header = json.loads((tmp_path / "record.json").read_text(encoding="utf-8"))
    header["files"]["metrics.json"] = hashlib.sha256((tmp_path / "metrics.json").read_bytes()).hexdigest()
    (tmp_path / "record.json").write_text(json.dumps(header), encoding="utf-8")

    assert read_record(tmp_path).metrics.errors is None
    assert main(["report", str(tmp_path)]) == 0 and "report.html" in capsys.readouterr().out
    # The same report as the record's own counts give, but honest that the clusters were counted now.
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8").replace(
        "computed from the verdicts when the run was scored", "computed from the run when this report was written")

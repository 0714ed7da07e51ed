"""The launch report's failure clusters: counted in the metrics stage and kept in the record, or
stored there by `diagnose` with the author's descriptions; an older record's diagnosis.json is read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.record_factory import build_record

from harness.metrics.diagnosis import diagnose, run_view
from harness.record import RunRecord
from harness.record.diagnosis import DIAGNOSIS
from harness.reporting import render_html, render_markdown

HOSTILE = "Items quoting <script>alert(1)</script> | as counter-speech are actioned."


@pytest.fixture()
def record(tmp_path: Path) -> RunRecord:
    record = build_record()
    record.out_dir = str(tmp_path)
    return record


def section(html: str) -> str:
    found = re.search(r'<section id="diagnosis">.*?</section>', html, re.DOTALL)
    assert found, "no failure-cluster section"
    return found.group(0)


def test_clusters_are_the_ones_the_metrics_stage_counted(record: RunRecord) -> None:
    html = section(render_html(record))
    assert "computed from the verdicts when the run was scored" in html
    assert "clf: over-enforcement, 10 errors of 36 decided" in html
    assert "tactic=counter_speech" in html and "<th>description</th>" not in html
    expected = diagnose(run_view(record))
    top = next(g for g in expected.groups if g.reviewer == "llm" and g.policy == record.candidate).kinds[1].by_rule[0]
    assert top.key in html and ", ".join(top.exemplars) in html


def described(record: RunRecord) -> RunRecord:
    assert record.metrics.errors is not None and record.metrics.errors.diagnosis is not None
    diagnosis = record.metrics.errors.diagnosis.model_copy(deep=True)
    group = next(g for g in diagnosis.groups if g.reviewer == "llm" and g.policy == record.candidate)
    group.kinds[0].by_rule[0].description = HOSTILE
    diagnosis.author_model = "openai/author"
    record.metrics.errors = record.metrics.errors.model_copy(update={"diagnosis": diagnosis})
    return record


def test_described_clusters_in_the_record_are_shown_escaped(record: RunRecord) -> None:
    record = described(record)
    html = section(render_html(record))
    assert "described by the author model" in html and "<th>description</th>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    markdown = render_markdown(record)
    assert "## Failure clusters" in markdown and "described by the author model" in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| as counter-speech" in markdown


def test_a_diagnosis_file_is_not_read_for_a_record_that_holds_its_clusters(record: RunRecord) -> None:
    stored = described(build_record()).metrics.errors
    assert stored is not None and stored.diagnosis is not None
    (Path(record.out_dir) / DIAGNOSIS).write_text(stored.diagnosis.model_dump_json(), encoding="utf-8")
    html = section(render_html(record))
    assert "computed from the verdicts when" in html and "counter-speech are actioned" not in html


def older(record: RunRecord) -> RunRecord:
    """The record as a version before the metrics stage counted the candidate's mistakes wrote it."""
    record.metrics.errors = None
    return record


def test_an_older_records_diagnosis_file_of_this_run_brings_its_descriptions(record: RunRecord) -> None:
    record = older(record)
    diagnosis = diagnose(run_view(record))
    group = next(g for g in diagnosis.groups if g.reviewer == "llm" and g.policy == record.candidate)
    group.kinds[0].by_rule[0].description = HOSTILE
    diagnosis.author_model = "openai/author"
    (Path(record.out_dir) / DIAGNOSIS).write_text(diagnosis.model_dump_json(), encoding="utf-8")
    html = section(render_html(record))
    assert "described by the author model" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_older_records_diagnosis_file_of_another_run_is_not_used(record: RunRecord) -> None:
    record = older(record)
    diagnosis = diagnose(run_view(record))
    diagnosis.run = "another run"
    diagnosis.groups[0].kinds[0].by_slice[0].description = HOSTILE
    (Path(record.out_dir) / DIAGNOSIS).write_text(diagnosis.model_dump_json(), encoding="utf-8")
    html = section(render_html(record))
    assert "computed from the run when this report was written" in html and "counter-speech are actioned" not in html


def test_an_older_record_renders_the_same_report(record: RunRecord) -> None:
    """Counting on read (the compatibility path) gives the page the metrics stage's counts give, and
    says the clusters were computed when the report was written."""
    new = render_markdown(record)
    old = render_markdown(older(build_record()))
    assert old == new.replace("computed from the verdicts when the run was scored",
                              "computed from the run when this report was written")

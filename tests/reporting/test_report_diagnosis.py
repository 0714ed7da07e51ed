"""The launch report's failure clusters: computed from the run, or read from the run's diagnosis.json
(with the author's descriptions) when `diagnose` wrote one for this run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.record_factory import build_record

from harness.metrics.diagnosis import diagnose, run_view
from harness.record.diagnosis import DIAGNOSIS
from harness.record import RunRecord
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


def test_clusters_are_computed_from_the_run_without_a_diagnosis_file(record: RunRecord) -> None:
    html = section(render_html(record))
    assert "computed from the run when this report was written" in html
    assert "clf: over-enforcement, 10 errors of 36 decided" in html
    assert "tactic=counter_speech" in html and "<th>description</th>" not in html
    expected = diagnose(run_view(record))
    top = next(g for g in expected.groups if g.reviewer == "llm" and g.policy == record.candidate).kinds[1].by_rule[0]
    assert top.key in html and ", ".join(top.exemplars) in html


def test_a_diagnosis_file_of_this_run_brings_its_descriptions_escaped(record: RunRecord) -> None:
    diagnosis = diagnose(run_view(record))
    group = next(g for g in diagnosis.groups if g.reviewer == "llm" and g.policy == record.candidate)
    group.kinds[0].by_rule[0].description = HOSTILE
    (Path(record.out_dir) / DIAGNOSIS).write_text(diagnosis.model_dump_json(), encoding="utf-8")

    html = section(render_html(record))
    assert "from diagnosis.json" in html and "<th>description</th>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    markdown = render_markdown(record)
    assert "## Failure clusters" in markdown and "from diagnosis.json" in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| as counter-speech" in markdown


def test_a_diagnosis_file_of_another_run_is_not_used(record: RunRecord) -> None:
    diagnosis = diagnose(run_view(record))
    diagnosis.run = "another run"
    diagnosis.groups[0].kinds[0].by_slice[0].description = HOSTILE
    (Path(record.out_dir) / DIAGNOSIS).write_text(diagnosis.model_dump_json(), encoding="utf-8")
    html = section(render_html(record))
    assert "computed from the run" in html and "counter-speech are actioned" not in html

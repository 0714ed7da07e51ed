"""Explanations generated on demand (explain) in the report: beside the exemplar they explain, linked
from the failure clusters, listed in their own section, escaped; report.md names them without text."""

from __future__ import annotations

from pathlib import Path

from support.record_factory import SCRIPT, build_record

from harness.record import read_record, replace, write_record
from harness.record.explanations import EXPLANATIONS_JSON, Explanation, Explanations
from harness.reporting import render_html, render_markdown


def _explained(item_id: str, *, decision: str, verdict: str, rationale: str) -> Explanation:
    return Explanation(item_id=item_id, reviewer="llm", policy="toy_hate@v2", opened_as=["false positive exemplar"],
                       verdict_decision=verdict, verdict_score=0.62, decision=decision, rationale=rationale,
                       rule_ids=["HS1"], model="local/toy-model")


def _with_explanations() -> tuple[str, str, str]:
    record = build_record()
    errors = record.metrics.errors
    assert errors is not None
    exemplar = next(e for s in errors.reviewers["llm"].exemplars for e in s.items)
    explanations = Explanations(run=record.name, run_created_at=record.created_at, items=[
        _explained(exemplar.item_id, decision="allowed", verdict=exemplar.decision, rationale=f"Quoted {SCRIPT} here.")])
    assert record.candidate == "toy_hate@v2"
    done = replace(record, explanations=explanations)
    return exemplar.item_id, render_html(done), render_markdown(done)


def test_an_explanation_sits_beside_its_exemplar_escaped_and_marked_when_it_disagrees() -> None:
    item_id, html, markdown = _with_explanations()
    assert SCRIPT not in html and "Quoted &lt;script" in html
    assert html.count('href="#explanation-0"') >= 2  # the exemplar card and the section's own heading
    assert 'id="explanation-0"' in html and '<a href="#explanations">Explanations</a>' in html
    assert "disagrees with the verdict (actioned, score 0.62)" in html
    assert "## Explanations on demand" in markdown and f"| {item_id} | llm |" in markdown
    assert "Quoted" not in markdown  # a rationale may quote eval content: only report.html shows it


def test_a_run_without_explanations_shows_no_section() -> None:
    html = render_html(build_record())
    assert 'id="explanations"' not in html and "Explanation (generated on demand)" not in html


def test_an_explanations_file_of_an_earlier_run_in_the_folder_is_not_read(tmp_path: Path) -> None:
    record = build_record()
    write_record(record, tmp_path)
    stored = Explanations(run=record.name, run_created_at=record.created_at,
                          items=[_explained("x1", decision="allowed", verdict="allowed", rationale="ok")])
    (tmp_path / EXPLANATIONS_JSON).write_text(stored.model_dump_json(), encoding="utf-8")
    assert read_record(tmp_path).explanations == stored
    (tmp_path / EXPLANATIONS_JSON).write_text(stored.model_copy(update={"run_created_at": "2020-01-01"})
                                              .model_dump_json(), encoding="utf-8")
    assert read_record(tmp_path).explanations is None

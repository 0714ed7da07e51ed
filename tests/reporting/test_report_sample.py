"""A reviewer that judged a seeded sample says so wherever its figures appear, and no sentence passes
off the items it never judged as a consensus or an abstention."""

from __future__ import annotations

from pathlib import Path

from support.record_factory import build_record

from harness.record import read_record, write_record
from harness.reporting.console import summary
from harness.reporting.gold import RelabelView
from harness.reporting.html import render_html
from harness.reporting.markdown import render_markdown

SAMPLE = "judged a seeded sample of 20 of 60 items"


def test_a_sampled_reviewer_is_labelled_in_the_page_the_markdown_and_the_console() -> None:
    record = build_record(llm_limit=20)
    assert record.reviewers["llm"].get("limit") == 20
    html, markdown, console = render_html(record), render_markdown(record), summary(record)
    assert "llm judged a seeded sample of 20 of 60 items (its limit is 20; label-stratified, seed 0)" in html
    assert html.count(SAMPLE) >= 3  # its verdict card and its candidate and baseline headline rows
    assert f"1 of 5 gates fail; {SAMPLE}" in markdown
    assert [line for line in console.splitlines() if " llm " in line and SAMPLE in line]
    # The classifier judged every item: nothing says otherwise of it.
    assert not [line for line in console.splitlines() if " clf " in line and "sample" in line]
    plain = build_record()
    assert "seeded sample" not in render_html(plain) + render_markdown(plain) + summary(plain)


def test_items_a_sampled_reviewer_never_judged_are_not_called_abstentions() -> None:
    record = build_record(llm_limit=20)
    block = record.metrics.agreement[record.candidate]
    # The classifier's errors on the 40 items outside the LLM's sample: no reviewer abstained on them.
    assert block.all_wrong_unjudged and block.all_wrong_abstained == 0
    html, markdown = render_html(record), render_markdown(record)
    for text in (html, markdown):
        assert "while another abstained" not in text
        assert (f"Every reviewer that judged them got {block.all_wrong_unjudged} more items wrong, but another "
                "reviewer never judged them (outside its sample)") in text


def test_an_abstention_is_still_called_one(tmp_path: Path) -> None:
    record = build_record(abstain_all=True)  # the LLM judged every item and abstained on each
    block = record.metrics.agreement[record.candidate]
    assert block.all_wrong_abstained and block.all_wrong_unjudged == 0
    view = RelabelView(total=1, reviewers=["clf", "llm"], items=[], consensus=True,
                       with_abstentions=block.all_wrong_abstained, with_unjudged=block.all_wrong_unjudged)
    assert view.partial_notes == [f"Every reviewer that decided got {block.all_wrong_abstained} more items wrong, "
                                  "while another abstained."]
    write_record(record, tmp_path / "run")
    again = read_record(tmp_path / "run").metrics.agreement[record.candidate]
    assert (again.all_wrong_abstained, again.all_wrong_unjudged) == (block.all_wrong_abstained, 0)


def test_a_gate_line_shows_the_observed_rate_its_interval_and_the_target() -> None:
    lines = [line for line in summary(build_record()).splitlines() if "gate over_enforcement (clf, overall)" in line]
    assert lines == ["  gate over_enforcement (clf, overall): fail — 27.8% [15.8%, 44.0%] (10/36) vs target ≤ 5.0%"]
    absent = [line for line in summary(build_record()).splitlines() if "leakage@absent (clf" in line]
    assert absent and absent[0].endswith("no data — no item in its scope was decided vs target ≤ 10.0%")

"""The score-quality section: AUC with its interval, a plain sentence when the reviewer cannot separate
the classes, the operating point confirmed on held-out, calibration with its reliability diagram; in
HTML, Markdown and the console summary; a record from before intervals and calibration still renders."""

from __future__ import annotations

import dataclasses
import re

import pytest
from support.pages import Page
from support.record_factory import build_record

from harness.record import RunRecord
from harness.reporting import render_html, render_markdown
from harness.reporting.console import summary

CANNOT = "cannot separate violating from benign items"


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return build_record()


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", Page(html).visible_text())


def chance_level(record: RunRecord) -> RunRecord:
    """The same record with the classifier's AUC interval straddling 0.5."""
    metrics = record.metrics.model_copy(deep=True)
    t = metrics.reviewers["clf"].thresholds
    assert t is not None
    t.auc, t.auc_ci_low, t.auc_ci_high = 0.53, 0.41, 0.65
    return dataclasses.replace(record, metrics=metrics)


def test_the_section_shows_auc_held_out_point_and_calibration(record: RunRecord) -> None:
    m = record.metrics.reviewers["clf"]
    assert m.thresholds is not None and m.thresholds.held_out and m.calibration is not None
    text = visible(render_html(record))
    assert "Score quality" in text
    assert f"AUC {m.thresholds.auc:.3f} [{m.thresholds.auc_ci_low:.3f}, {m.thresholds.auc_ci_high:.3f}]" in text
    assert "better than chance" in text and CANNOT not in text
    held = m.thresholds.held_out[0]
    assert held.threshold is None or f"{held.threshold:.3f}" in text
    assert f"{held.dev_items:,} dev / {held.held_out_items:,} held-out" in text
    assert m.calibration.summary in text
    alts = [a.get("alt") or "" for tag, a in Page(render_html(record)).tags if tag == "img"]
    assert any("share violating against mean score" in a for a in alts)
    markdown = render_markdown(record)
    assert "## Score quality" in markdown and f"ECE {m.calibration.ece:.3f}" in markdown


def test_a_reviewer_at_chance_is_called_out_plainly(record: RunRecord) -> None:
    flat = chance_level(record)
    assert CANNOT in visible(render_html(flat))
    assert CANNOT in render_markdown(flat)
    line = next(x for x in summary(flat).splitlines() if x.startswith("  scores (clf"))
    assert "AUC 0.530 [0.410, 0.650]" in line and "interval includes 0.5" in line


def test_a_record_from_before_intervals_and_calibration_still_renders(record: RunRecord) -> None:
    metrics = record.metrics.model_copy(deep=True)
    for m in metrics.reviewers.values():
        m.calibration = None
        if m.thresholds is not None:
            m.thresholds = m.thresholds.model_copy(update={"auc_ci_low": None, "auc_ci_high": None, "held_out": None,
                                                          "pr_curve": None, "average_precision": None})
    text = visible(render_html(dataclasses.replace(record, metrics=metrics)))
    assert "Score quality" in text and "has no interval" in text and "Calibration over" not in text

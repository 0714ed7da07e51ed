"""Reports: pure functions of run records, rendered to self-contained HTML and Markdown."""

from __future__ import annotations

from pathlib import Path

from harness.record import REPORT, RunRecord, atomic_write_text


def write_reports(record: RunRecord, out_dir: Path) -> Path:
    from harness.reporting.html import render_html
    from harness.reporting.markdown import render_markdown

    atomic_write_text(out_dir / "report.md", render_markdown(record))
    path = out_dir / REPORT
    atomic_write_text(path, render_html(record))
    return path

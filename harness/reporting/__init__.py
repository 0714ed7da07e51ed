"""Reports: pure functions of run records, rendered to self-contained HTML and Markdown."""

from __future__ import annotations

from pathlib import Path

from harness.record import REPORT, RunRecord, atomic_write_text

__all__ = ["write_reports", "render_html", "render_markdown"]


def write_reports(record: RunRecord, out_dir: Path) -> Path:
    """Write report.md and report.html into `out_dir`; returns the HTML path."""
    from harness.reporting.html import html_from_view
    from harness.reporting.markdown import markdown_from_view
    from harness.reporting.views import build_view

    view = build_view(record, with_charts=True)
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.md", markdown_from_view(view))
    path = out_dir / REPORT
    atomic_write_text(path, html_from_view(view))
    return path


def render_html(record: RunRecord) -> str:
    from harness.reporting.html import render_html as render

    return render(record)


def render_markdown(record: RunRecord) -> str:
    from harness.reporting.markdown import render_markdown as render

    return render(record)

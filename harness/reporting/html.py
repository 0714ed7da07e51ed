"""Self-contained HTML report: styles and charts inline, no scripts, every piece of content escaped."""

from __future__ import annotations

from harness.record import RunRecord
from harness.reporting.pages import CSP, bar_style, compile_templates, render
from harness.reporting.views import ReportView, build_view

__all__ = ["CSP", "bar_style", "compile_templates", "html_from_view", "render_html"]


def render_html(record: RunRecord) -> str:
    return html_from_view(build_view(record, with_charts=True))


def html_from_view(view: ReportView) -> str:
    return render("report.html.j2", v=view)

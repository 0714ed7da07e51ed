"""Self-contained HTML report: styles and charts inline, no scripts, every piece of content escaped."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from harness.record import RunRecord
from harness.reporting.fmt import RateCell
from harness.reporting.views import ReportView, build_view

# No script may run: the report shows untrusted eval content and model output. The content-warning
# toggle is a CSS checkbox, so the policy can forbid scripts outright.
CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
       "connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.reporting", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["bar"] = bar_style
    return env


def compile_templates() -> None:
    """Parse and compile every template now (Jinja keeps them), so the first render only renders."""
    env = _environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)


def bar_style(cell: RateCell) -> dict[str, str]:
    """Positions (in %) of the interval band and the point of a rate bar; only numbers reach the CSS."""
    if cell.value is None:
        return {}
    low = cell.low if cell.low is not None else cell.value
    high = cell.high if cell.high is not None else cell.value
    return {"band": f"left:{low * 100:.1f}%;width:{max(0.0, high - low) * 100:.1f}%",
            "dot": f"left:{cell.value * 100:.1f}%"}


def render_html(record: RunRecord) -> str:
    return html_from_view(build_view(record, with_charts=True))


def html_from_view(view: ReportView) -> str:
    return _environment().get_template("report.html.j2").render(v=view, csp=CSP)

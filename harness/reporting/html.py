"""Self-contained HTML report (no network requests); every piece of content is escaped."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from harness.record import RunRecord
from harness.reporting.markdown import pct


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.reporting", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = pct
    return env


def render_html(record: RunRecord) -> str:
    return _environment().get_template("report.html.j2").render(r=record, m=record.metrics)

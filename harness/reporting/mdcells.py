"""Markdown building blocks: escaped table cells, rows and rate text shared by the Markdown sections."""

from __future__ import annotations

import re
from typing import Any

from harness.reporting.fmt import RateCell


class Raw(str):
    """Markdown this package wrote itself (bold markers around escaped text); `row` leaves it alone."""


def cell(value: Any) -> str:
    """Table-cell text: no pipe or newline can break the row; no HTML, link or math reaches the PR page."""
    if isinstance(value, Raw):
        return str(value)
    text = str(value)
    # Emphasis in content is cosmetic; links ("](") and math ("$") would change what the page shows.
    for old, new in (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "\\`"),
                     ("$", "\\$"), ("](", "]\\(")):
        text = text.replace(old, new)
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def strong(value: Any) -> Raw:
    return Raw(f"**{cell(value)}**")


def row(*values: Any) -> str:
    return "| " + " | ".join(cell(v) for v in values) + " |"


def header(*names: str) -> list[str]:
    return [row(*names), "|" + "---|" * len(names)]


def rate(c: RateCell) -> str:
    if c.no_data:
        return f"no data ({c.counts})"
    return f"{c.text} {c.interval} ({c.counts})" + (" ⚠ small n" if c.small else "")


def per10k(c: RateCell) -> str:
    return f"{c.per_10k} {c.per_10k_interval}".strip()


def significance(significant: bool, direction: str) -> str:
    return strong(f"significant, {direction}") if significant else "not significant"

"""Number and text formatting for reports: every figure is formatted here, once."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from harness.record.metrics import SMALL_SAMPLE, GateResult, Rate

NO_DATA = "no data"
PER = 10_000
# Display limit for untrusted text; the full text stays in verdicts.parquet.
CLIP_CHARS = 2_000


@dataclass(frozen=True)
class RateCell:
    """One rate ready to print: value, interval, counts, and the same per 10,000 items."""

    value: float | None
    low: float | None
    high: float | None
    k: int
    n: int
    text: str
    interval: str
    counts: str
    per_10k: str
    per_10k_interval: str
    small: bool

    @property
    def no_data(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Clipped:
    text: str
    note: str


def number(value: float | None) -> float | None:
    """A finite float or None: NaN never reaches a template."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def percent(value: float | None, digits: int = 1) -> str:
    value = number(value)
    return NO_DATA if value is None else f"{value:.{digits}%}"


def signed_percent(value: float | None) -> str:
    value = number(value)
    if value is None:
        return NO_DATA
    return f"{value * 100:+.1f} pp"


def rate_cell(rate: Rate | None) -> RateCell:
    if rate is None:
        return RateCell(None, None, None, 0, 0, NO_DATA, "", "0/0", NO_DATA, "", False)
    value, low, high = number(rate.rate), number(rate.ci_low), number(rate.ci_high)
    k, n = rate.k, rate.n
    if value is None:
        return RateCell(None, None, None, k, n, NO_DATA, "", f"{k}/{n}", NO_DATA, "", False)
    bounded = low is not None and high is not None
    interval = f"[{percent(low)}, {percent(high)}]" if bounded else ""
    per_interval = f"[{low * PER:,.0f}–{high * PER:,.0f}]" if low is not None and high is not None else ""
    return RateCell(value, low, high, k, n, percent(value), interval, f"{k}/{n}", f"{value * PER:,.0f}",
                    per_interval, n < SMALL_SAMPLE)


def pct(rate: Rate | None) -> str:
    """One-line rate, as the CLI prints it: 43.6% [34.0%, 53.7%] (41/94)."""
    cell = rate_cell(rate)
    if cell.no_data:
        return "n/a"
    return f"{cell.text} {cell.interval} ({cell.counts})"


def p_value(value: float | None) -> str:
    value = number(value)
    if value is None:
        return NO_DATA
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def p_text(value: float | None) -> str:
    """As prose: "p < 0.001" or "p = 0.032"."""
    text = p_value(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}" if text != NO_DATA else f"p: {NO_DATA}"


def significant(value: float | None) -> bool:
    value = number(value)
    return value is not None and value < 0.05


def target(gate: GateResult) -> str:
    parts = []
    if gate.max is not None:
        parts.append(f"≤ {percent(gate.max)}")
    if gate.min is not None:
        parts.append(f"≥ {percent(gate.min)}")
    return " and ".join(parts) or NO_DATA


def clip(value: Any, limit: int = CLIP_CHARS) -> Clipped:
    """Untrusted text cut for display; the note says how much was left out."""
    text = "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else str(value)
    if len(text) <= limit:
        return Clipped(text, "")
    return Clipped(text[:limit], f"showing the first {limit:,} of {len(text):,} characters")


def short(value: Any, limit: int = 80) -> str:
    """Untrusted label (slice value, id) cut to fit a table cell or chart axis."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


METRIC_LABELS = {
    "over_enforcement": "over-enforcement",
    "leakage": "leakage",
    "false_action_share": "false-action share",
    "abstention_rate": "abstention rate",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def items_count(value: float | None) -> str:
    """Expected items (per 10,000): one decimal below 10, where a rounded 0 would hide a real count."""
    value = number(value)
    if value is None:
        return NO_DATA
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def share_targets(text: str) -> str:
    """Machine goal text ("... <= 0.05") as a reader sees it ("... ≤ 5.0%")."""
    return re.sub(r"(<=|>=)\s*([0-9.]+)",
                  lambda m: f"{'≤' if m.group(1) == '<=' else '≥'} {percent(float(m.group(2)))}", text)


def counted(count: int, noun: str) -> str:
    """'1 item', '2 items', '1,200 items': a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else noun + 's'}"

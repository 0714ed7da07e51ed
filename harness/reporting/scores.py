"""How good a reviewer's score is, as metrics.json records it: AUC with its interval and whether the
reviewer separates the classes at all, the operating point chosen on dev and confirmed on held-out,
and calibration (Brier, ECE, reliability diagram). HTML view, Markdown lines and console lines."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Calibration, HeldOutPoint, ReviewerMetrics, Thresholds
from harness.reporting.fmt import RateCell, pct, rate_cell, share_targets, short
from harness.reporting.mdcells import cell
from harness.reporting.svg import MUTED, TICK_SIZE, TITLE_SIZE, Canvas, Scale, text_width
from harness.reporting.tables import STATUS_CSS

SOURCE_TEXT = {"logprobs": "P(violation) from token log-probabilities", "confidence": "the model's stated confidence",
               "score": "score"}
TICKS = (0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class HeldOutView:
    goal: str
    threshold: str
    split: str
    over_enforcement: RateCell
    leakage: RateCell
    status: str
    css: str


@dataclass(frozen=True)
class ScoreView:
    reviewer: str
    source: str
    auc: str  # "0.512 [0.447, 0.577]"
    separation: str  # one sentence: does the score tell violating from benign items?
    separates: bool | None
    average_precision: str
    held_out: list[HeldOutView]
    split: str
    calibration: Calibration | None
    reliability_chart: str | None


def score_views(reviewers: dict[str, ReviewerMetrics], *, with_charts: bool = True) -> list[ScoreView]:
    """One view per reviewer with a threshold analysis."""
    return [score_view(name, m.thresholds, m.calibration, with_charts=with_charts)
            for name, m in reviewers.items() if m.thresholds and m.thresholds.auc is not None]


def score_view(reviewer: str, t: Thresholds, calibration: Calibration | None, *, with_charts: bool = True) -> ScoreView:
    source = calibration.source if calibration else "score"
    return ScoreView(reviewer=reviewer, source=SOURCE_TEXT.get(source, "score"), auc=auc_text(t),
                     separation=separation(t), separates=separates(t),
                     average_precision="" if t.average_precision is None else f"{t.average_precision:.3f}",
                     held_out=[_held_out(p) for p in t.held_out or []], split=t.split or "",
                     calibration=calibration,
                     reliability_chart=reliability_chart(reviewer, calibration) if with_charts and calibration else None)


def auc_text(t: Thresholds) -> str:
    if t.auc is None:
        return "n/a"
    if t.auc_ci_low is None or t.auc_ci_high is None:
        return f"{t.auc:.3f}"
    return f"{t.auc:.3f} [{t.auc_ci_low:.3f}, {t.auc_ci_high:.3f}]"


def separates(t: Thresholds) -> bool | None:
    """False when the AUC interval includes 0.5 (no better than chance), None without an interval."""
    if t.auc_ci_low is None or t.auc_ci_high is None:
        return None
    return not (t.auc_ci_low <= 0.5 <= t.auc_ci_high)


def separation(t: Thresholds) -> str:
    verdict = separates(t)
    if verdict is None:
        return "The AUC has no interval (fewer than two items of a class, or a run recorded before intervals)."
    if not verdict:
        return ("This reviewer cannot separate violating from benign items: its AUC interval includes 0.5 "
                "(chance), so no threshold on its score will do better than a coin weighted to the same rate.")
    if t.auc is not None and t.auc < 0.5:
        return "Its score ranks benign items above violating ones (AUC below 0.5): it is inverted."
    return "Its score separates violating from benign items better than chance (the AUC interval excludes 0.5)."


def _held_out(p: HeldOutPoint) -> HeldOutView:
    status = p.gate_status or "no data"
    return HeldOutView(goal=share_targets(short(p.goal, 120)),
                       threshold="none (action nothing)" if p.threshold is None else f"{p.threshold:.3f}",
                       split=f"{p.dev_items:,} dev / {p.held_out_items:,} held-out",
                       over_enforcement=rate_cell(p.over_enforcement), leakage=rate_cell(p.leakage),
                       status=status, css=STATUS_CSS.get(status, "nodata"))


def reliability_chart(reviewer: str, c: Calibration) -> str:
    """The reliability diagram: per score bin, the share that violates against the mean score (the
    diagonal is a calibrated score); the dot's size grows with the bin's items."""
    title = f"{short(reviewer, 40)}: reliability"
    left, right, top, plot = 58, 16, 36, 300
    width = max(left + plot + right, 10 + text_width(title, TITLE_SIZE, bold=True) + 10)
    canvas = Canvas(width, top + plot + 42)
    x = Scale(0, 1, left, left + plot)
    y = Scale(0, 1, top + plot, top)
    canvas.x_axis(x, TICKS, top, top + plot, "mean score in the bin")
    canvas.y_axis(y, TICKS, left, left + plot, "share violating")
    canvas.text(10, 16, title, size=TITLE_SIZE, bold=True)
    canvas.line(x(0), y(0), x(1), y(1), colour=MUTED, width=1.0, cls="diagonal")
    most = max((b.items for b in c.bins), default=1)
    for b in c.bins:
        canvas.circle(x(b.mean_score), y(b.observed), 2.5 + 5.5 * (b.items / most) ** 0.5, "#1f77b4", cls="bin")
    canvas.text(left + 6, top + 10, f"ECE {c.ece:.3f}, Brier {c.brier:.3f}, n={c.items:,}", size=TICK_SIZE)
    return canvas.uri(title)


def markdown_lines(views: list[ScoreView]) -> list[str]:
    """The report's Markdown section: per reviewer, AUC and separation, held-out rates, calibration."""
    if not views:
        return []
    lines = ["## Score quality", ""]
    for v in views:
        lines.append(f"- **{cell(v.reviewer)}** ({v.source}): AUC {v.auc}; average precision {v.average_precision or 'n/a'}. "
                     f"{v.separation}")
        for p in v.held_out:
            lines.append(f"  - {p.goal}: threshold {p.threshold} chosen on dev, on held-out over-enforcement "
                         f"{p.over_enforcement.text} {p.over_enforcement.interval} ({p.over_enforcement.counts}), "
                         f"leakage {p.leakage.text} {p.leakage.interval} ({p.leakage.counts}): **{p.status}** "
                         f"({p.split})")
        if v.calibration:
            c = v.calibration
            interval = (f" [{c.ece_ci_low:.3f}, {c.ece_ci_high:.3f}]"
                        if c.ece_ci_low is not None and c.ece_ci_high is not None else "")
            lines.append(f"  - calibration: Brier {c.brier:.3f}, ECE {c.ece:.3f}{interval}. {c.summary}")
    return lines + [""]


def console_lines(reviewers: dict[str, ReviewerMetrics]) -> list[str]:
    """What `run` prints per scoring reviewer: AUC with its interval, whether it separates the classes,
    each goal's threshold chosen on dev with its held-out rates, and whether its score is calibrated."""
    lines = []
    for name, m in reviewers.items():
        t = m.thresholds
        if t is None or t.auc is None:
            continue
        source = m.calibration.source if m.calibration else "score"
        verdict = separates(t)
        tail = ("; cannot separate violating from benign items (AUC interval includes 0.5)" if verdict is False
                else "")
        lines.append(f"  scores ({name}, {source}): AUC {auc_text(t)}{tail}")
        for p in t.held_out or []:
            threshold = "none" if p.threshold is None else f"{p.threshold:.3f}"
            lines.append(f"    {p.goal}: threshold {threshold} (chosen on {p.dev_items} dev items); held-out "
                         f"over-enforcement {pct(p.over_enforcement)}  leakage {pct(p.leakage)}  {p.gate_status}")
        if m.calibration:
            lines.append(f"    calibration: {m.calibration.summary}")
    return lines

"""revise.html: each candidate's diff against the current policy beside its held-out flips.

Everything shown is escaped (policy text from the author model and item text are untrusted) and
the page has no script."""

from __future__ import annotations

import difflib
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.record.revision import CandidateResult, RateCheck, ReviseResult

MAX_FLIPS = 50

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:90rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.row{display:flex;gap:1.5rem;align-items:flex-start}.row>div{flex:1;min-width:0}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem;white-space:pre-wrap}
.add{background:#e6ffec}.del{background:#ffebe9}.hunk{color:#777}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
.accepted{color:#0a6b2b;font-weight:600}.rejected{color:#a40e26;font-weight:600}
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _check_row(check: "RateCheck") -> str:
    interval = (f"{check.ci_low:+.1%} to {check.ci_high:+.1%}" if check.ci_low is not None
                and check.ci_high is not None else "—")
    p = "—" if check.p_value is None else f"{check.p_value:.3g}"
    adjusted = "—" if check.p_adjusted is None else f"{check.p_adjusted:.3g}"
    flag = " (worse)" if check.worse else ""
    return (f"<tr><td>{escape(check.name)}{flag}</td><td>{_pct(check.before)}</td><td>{_pct(check.after)}</td>"
            f"<td>{interval}</td><td>{p}</td><td>{adjusted}</td><td>{check.n}</td></tr>")


def _diff(current: str, candidate: str) -> str:
    lines = []
    for line in difflib.unified_diff(current.splitlines(), candidate.splitlines(), "current", "candidate",
                                     lineterm="", n=2):
        css = "hunk" if line.startswith("@@") else "add" if line.startswith("+") else \
            "del" if line.startswith("-") else ""
        lines.append(f'<span class="{css}">{escape(line)}</span>' if css else escape(line))
    return "\n".join(lines) or "(no change)"


def _candidate(candidate: "CandidateResult", current_text: str, out: Path) -> str:
    state = "accepted" if candidate.accepted else "rejected"
    parts = [f'<h2>Candidate {candidate.index} <span class="{state}">{state}</span></h2>',
             f"<p>{escape(candidate.why)}</p>"]
    if candidate.file:
        parts.append(f"<p>File: <code>{escape(candidate.file)}</code>; {escape(candidate.lint)}</p>")
    path = out / candidate.file if candidate.file else None
    text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
    flips = []
    for judgement in candidate.judgements:
        rows = "".join(_check_row(c) for c in [judgement.target, *judgement.checks])
        flips.append(f"<h3>{escape(judgement.reviewer)} on held-out</h3><table><tr><th>rate</th><th>current</th>"
                     f"<th>candidate</th><th>95% CI of change</th><th>McNemar p</th><th>Holm p</th><th>n</th></tr>"
                     f"{rows}</table>")
        if judgement.gates:
            flips.append("<p>Gates: " + ", ".join(f"{escape(g.gate)} {escape(g.before)} → {escape(g.after)}"
                                                  for g in judgement.gates) + "</p>")
        rows = "".join(f"<tr><td>{escape(f.item_id)}</td><td>{escape(f.gold)}</td><td>{escape(f.before)} → "
                       f"{escape(f.after)}</td><td>{escape(f.text[:300])}</td></tr>"
                       for f in judgement.flips[:MAX_FLIPS])
        more = f"<p>… and {len(judgement.flips) - MAX_FLIPS} more</p>" if len(judgement.flips) > MAX_FLIPS else ""
        flips.append(f"<p>{len(judgement.flips)} flips</p><table><tr><th>item</th><th>gold</th><th>decision</th>"
                     f"<th>text</th></tr>{rows}</table>{more}")
    diff = _diff(current_text, text) if text else "(no policy document)"
    parts.append(f'<div class="row"><div><pre>{diff}</pre></div><div>{"".join(flips) or "<p>not judged</p>"}'
                 "</div></div>")
    return "\n".join(parts)


def revise_page(result: "ReviseResult", current_text: str, out: Path) -> str:
    current = "".join(f"<tr><td>{escape(c.reviewer)}</td><td>{c.part}</td><td>{_pct(c.over_enforcement)}</td>"
                      f"<td>{_pct(c.leakage)}</td><td>{_pct(c.errors)}</td></tr>" for c in result.current)
    body = [f"<h1>revise: {escape(result.experiment)} — {escape(result.policy)}</h1>",
            f"<p>Target: {escape(result.target)}; author {escape(result.author_model)}; split seed "
            f"{result.split.seed}, {len(result.split.dev)} dev / {len(result.split.holdout)} held-out items "
            f"(stratified by {escape(', '.join(result.split.strata))}). "
            f"{len(result.accepted)} of {len(result.candidates)} candidates accepted.</p>",
            "<table><tr><th>reviewer</th><th>part</th><th>over-enforcement</th><th>leakage</th><th>errors</th></tr>"
            f"{current}</table>",
            *(_candidate(c, current_text, out) for c in result.candidates)]
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>revise</title>"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<style>{_STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")

"""revise.html: each candidate's diff against the current policy beside its held-out flips.

Everything shown is escaped by the report's environment (policy text from the author model and item
text are untrusted) and the page has no script."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from harness.record.revision import CandidateResult, RateCheck, ReviseResult
from harness.reporting.pages import percent_or_dash as pct
from harness.reporting.pages import render

MAX_FLIPS = 50


@dataclass(frozen=True)
class CheckRow:
    name: str
    before: str
    after: str
    interval: str
    p: str
    adjusted: str
    n: int


@dataclass(frozen=True)
class CandidateView:
    result: CandidateResult
    state: str  # "accepted" or "rejected"
    diff: list[tuple[str, str]]  # (css class or "", line)
    no_diff: str  # shown when `diff` is empty
    checks: list[list[CheckRow]]  # per judgement: its target, then its checks


def check_row(check: RateCheck) -> CheckRow:
    interval = (f"{check.ci_low:+.1%} to {check.ci_high:+.1%}" if check.ci_low is not None
                and check.ci_high is not None else "—")
    return CheckRow(name=check.name + (" (worse)" if check.worse else ""), before=pct(check.before),
                    after=pct(check.after), interval=interval,
                    p="—" if check.p_value is None else f"{check.p_value:.3g}",
                    adjusted="—" if check.p_adjusted is None else f"{check.p_adjusted:.3g}", n=check.n)


def diff_lines(current: str, candidate: str) -> list[tuple[str, str]]:
    lines = []
    for line in difflib.unified_diff(current.splitlines(), candidate.splitlines(), "current", "candidate",
                                     lineterm="", n=2):
        css = "hunk" if line.startswith("@@") else "add" if line.startswith("+") else \
            "del" if line.startswith("-") else ""
        lines.append((css, line))
    return lines


def candidate_view(candidate: CandidateResult, current_text: str, out: Path) -> CandidateView:
    path = out / candidate.file if candidate.file else None
    text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
    return CandidateView(
        result=candidate, state="accepted" if candidate.accepted else "rejected",
        diff=diff_lines(current_text, text) if text else [],
        no_diff="(no change)" if text else "(no policy document)",
        checks=[[check_row(c) for c in (j.target, *j.checks)] for j in candidate.judgements])


def revise_page(result: ReviseResult, current_text: str, out: Path) -> str:
    """revise.html of one `policy-harness revise` (candidate files read from `out`)."""
    return render("revise.html.j2", r=result, max_flips=MAX_FLIPS,
                  candidates=[candidate_view(c, current_text, out) for c in result.candidates])

"""User-facing errors: one plain sentence naming the file, the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from harness.verdicts import Verdict


class HarnessError(Exception):
    """An error the user can fix; the CLI prints it as one line and exits with status 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class ProviderError(HarnessError):
    """A model endpoint refused the run (bad key, unknown model, dead endpoint)."""


class BudgetExceeded(Exception):
    """Raised inside a reviewer when the run's cost budget is spent; the run stops cleanly.

    `verdicts` holds what the reviewer judged before the budget ran out (the run keeps them)."""

    def __init__(self, message: str, verdicts: list[Verdict] | None = None) -> None:
        super().__init__(message)
        self.verdicts: list[Verdict] = list(verdicts or [])


def yaml_problem(err: Exception, *, line_offset: int = 0) -> str:
    """Where and what of a YAML parse error on one line: ' at line L, column C (problem)'."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1 + line_offset}, column {mark.column + 1}" if mark else ""
    # PyYAML raises ValueError for impossible dates or !!int tags, RecursionError for deep nesting.
    problem = "nested too deeply" if isinstance(err, RecursionError) else getattr(err, "problem", None) or str(err)
    problem = " ".join(str(problem or "malformed YAML").split())
    if _tab_at(mark) or "'\\t'" in problem:
        # PyYAML's words for a tab ("found character '\t' that cannot start any token") do not say what to do.
        problem += "; indent with spaces, not tabs"
    return f"{where} ({problem})"


def _tab_at(mark: object) -> bool:
    """Whether the line a YAML error points at is indented with a tab."""
    buffer, line = getattr(mark, "buffer", None), getattr(mark, "line", None)
    if not isinstance(buffer, str) or not isinstance(line, int):
        return False
    lines = buffer.splitlines()
    text = lines[line] if line < len(lines) else ""
    return "\t" in text[:len(text) - len(text.lstrip())]


def unreadable(err: OSError) -> str:
    """An OSError's reason in lower case, for 'could not be read (is a directory)'."""
    return (err.strerror or type(err).__name__).lower()


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' when none is close.

    A choice differing only in case, spaces or underscores ('Violating', 'hate speech') wins over
    a closer spelling, since it is almost always what was meant."""
    options = list(choices)
    folded = [c for c in options if _fold(c) == _fold(name) and c != name]
    close = folded or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _fold(text: str) -> str:
    return "".join(text.replace("_", " ").replace("-", " ").split()).casefold()

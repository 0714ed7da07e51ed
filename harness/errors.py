"""User-facing errors: one plain sentence naming the file, the problem and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


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
    """Raised inside a reviewer when the run's cost budget is spent; the run stops cleanly."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""

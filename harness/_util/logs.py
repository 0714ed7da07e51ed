"""Where the library's warnings go when it runs as a command."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class StderrHandler(logging.StreamHandler[TextIO]):
    """A stderr handler the harness added itself: a second call finds it and adds no other."""

    def __init__(self, line_format: str) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(line_format))


def log_warnings_to_stderr() -> None:
    """The library warns through `logging` (a notebook chooses its own handlers); the CLI prints
    them as 'warning: ...' lines."""
    logger = logging.getLogger("harness")
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        logger.addHandler(StderrHandler("warning: %(message)s"))
        logger.setLevel(logging.WARNING)
        logger.propagate = False

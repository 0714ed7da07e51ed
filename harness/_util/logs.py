"""Where the library's warnings go when it runs as a command."""

from __future__ import annotations

import logging
import sys


def log_warnings_to_stderr() -> None:
    """The library warns through `logging` (a notebook chooses its own handlers); the CLI prints
    them as 'warning: ...' lines."""
    logger = logging.getLogger("harness")
    if not any(getattr(h, "_policy_harness", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        handler._policy_harness = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False

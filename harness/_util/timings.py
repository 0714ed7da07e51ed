"""Wall-clock seconds of a run's stages, logged to `harness._util.timings`; `policy-harness run --timings`
prints them, and the whole-run benchmark reads them from there."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from harness._util.logs import StderrHandler

log = logging.getLogger(__name__)
LINE_PREFIX = "timing: "
_IMPORTED_AT = time.time()
_origin: list[float] = []  # set in a child process that times stages of its parent's run


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Log how long the block took, and when it started and ended (seconds after the process started)."""
    started = time.time()
    try:
        yield
    finally:
        _log(name, started, time.time())


def log_start_up() -> None:
    """The stage before any command code runs: the interpreter and the imports of the command."""
    _log("start-up", process_started_at(), time.time())


def _log(name: str, started: float, ended: float) -> None:
    if log.isEnabledFor(logging.INFO):
        origin = process_started_at()
        log.info("%s %.3f s (%.3f-%.3f s after the process started)", name, ended - started,
                 started - origin, ended - origin)


def measure_from(origin: float) -> None:
    """Give stage times from `origin` (a parent's process_started_at()) rather than this process's start."""
    _origin[:] = [origin]


def process_started_at() -> float:
    """The process's start as a Unix time (Linux: from /proc), else when this module was imported."""
    if _origin:
        return _origin[0]
    try:
        fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat(5): starttime, in ticks
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)
    except (OSError, AttributeError, IndexError, ValueError):  # not Linux
        return _IMPORTED_AT


def print_timings() -> None:
    """Send the stage lines to stderr as 'timing: <stage> <seconds> s (...)'."""
    if any(isinstance(h, StderrHandler) for h in log.handlers):
        return
    log.addHandler(StderrHandler(LINE_PREFIX + "%(message)s"))
    log.setLevel(logging.INFO)
    log.propagate = False

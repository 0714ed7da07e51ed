"""Progress of a reviewer's work, on stderr: a live bar in a terminal; from the command line, a line
every few seconds otherwise (a log file, CI, a pipe); nothing when `quiet` (`run --quiet`).

Called as a library (a notebook, a script) tqdm keeps its own behaviour: a bar in a terminal,
nothing where stderr is not one (a notebook's is not). `settings` is how the command line chooses."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

quiet = False  # no bar, no line (the command line's --quiet)
lines = False  # off a terminal, a line every LINE_INTERVAL_S (the command line sets it)
LINE_INTERVAL_S = 5.0  # between two progress lines when stderr is not a terminal
STATUS_INTERVAL_S = 0.5  # the bar's status text: formatting it per item costs more than a call


@contextlib.contextmanager
def settings(*, quiet: bool, lines: bool) -> Iterator[None]:
    """How progress shows during one command; the previous settings come back after it."""
    saved = _switches()
    _switch(quiet, lines)
    try:
        yield
    finally:
        _switch(*saved)


def _switches() -> tuple[bool, bool]:
    return quiet, lines


def _switch(new_quiet: bool, new_lines: bool) -> None:
    global quiet, lines
    quiet, lines = new_quiet, new_lines


def _on_terminal() -> bool:
    return sys.stderr is not None and sys.stderr.isatty()


def say(text: str) -> None:
    """One line of progress (a classifier starts or ends fitting), where a bar or progress lines would show."""
    if not quiet and (lines or _on_terminal()):
        print(text, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """'0.4 s', '35 s', '4 min', '1.2 h': how long, to the precision a reader needs."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """done/total of one reviewer's work, its rate, the time left and a status (the cost so far).

    `status` is called from a timer thread in line mode: it must only read (counters, a meter)."""

    def __init__(self, name: str, total: int, *, status: Callable[[], str] | None = None,
                 interval_s: float = LINE_INTERVAL_S) -> None:
        self.name = name
        self.total = total
        self.done = 0
        self.status = status or (lambda: "")
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._status_at = 0.0
        self._bar: tqdm[NoReturn] | None = None
        self._stream: TextIO | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        stream = sys.stderr
        if quiet or stream is None:
            return
        if not lines or stream.isatty():
            from tqdm import tqdm

            # disable=None: tqdm decides (a bar on a terminal, else nothing: a notebook sees what it always did)
            self._bar = tqdm(total=total, desc=name, unit="item", file=stream, disable=None, dynamic_ncols=True)
            return
        self._stream = stream
        self._timer = threading.Thread(target=self._every_interval, name=f"progress {name}", daemon=True)
        self._timer.start()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if (now := time.monotonic()) - self._status_at >= STATUS_INTERVAL_S:
                self._status_at = now
                self._bar.set_postfix_str(self.status(), refresh=False)

    def refresh(self) -> None:
        """Show a changed status now (on the bar; a line shows it at its next interval)."""
        if self._bar is not None:
            self._bar.set_postfix_str(self.status(), refresh=True)

    def line(self, *, final: bool = False) -> str:
        """'smollm2: 12/40 items, 0.8/s, ~35 s left, $0.0012'; at the end the time it took."""
        elapsed = time.monotonic() - self.started
        head = f"{self.name}: {self.done}/{self.total} items"
        parts = [f"{head} in {duration(elapsed)}" if final else head]
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.done:
            parts.append(f"{rate:.1f}/s")
            if not final and self.done < self.total:
                parts.append(f"~{duration((self.total - self.done) / rate)} left")
        elif not final:
            parts.append(f"{duration(elapsed)} elapsed")
        if status := self.status():
            parts.append(status)
        return ", ".join(parts)

    def _every_interval(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._write(self.line())

    def _write(self, text: str) -> None:
        assert self._stream is not None
        try:
            print(text, file=self._stream, flush=True)
        except (OSError, ValueError):  # stderr closed under us (a pipe's reader gone): progress is not worth a crash
            self._stop.set()

    def close(self, *, summary: bool = True) -> None:
        """End the bar, or write the last line (done/total and how long it took); no last line when the
        work failed or was interrupted (`summary` False): the error says what happened."""
        if self._bar is not None:
            self._bar.set_postfix_str(self.status(), refresh=False)
            self._bar.close()
            self._bar = None
        if self._timer is not None:
            self._stop.set()
            self._timer.join()
            self._timer = None
            if summary:
                self._write(self.line(final=True))

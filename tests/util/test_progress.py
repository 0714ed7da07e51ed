"""Progress lines when stderr is not a terminal: every interval while a reviewer works, once at the end."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from harness._util import progress
from harness._util.progress import Progress


@pytest.fixture(autouse=True)
def as_the_command_line_shows_it() -> Iterator[None]:
    with progress.settings(quiet=False, lines=True):
        yield


def test_lines_every_interval_then_a_last_one(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress("smollm2", 40, status=lambda: "cost $0.0000", interval_s=0.05)
    bar.update(12)
    time.sleep(0.2)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3, lines
    assert lines[0].startswith("smollm2: 12/40 items, ") and " left, cost $0.0000" in lines[0]
    assert lines[-1].startswith("smollm2: 12/40 items in ") and lines[-1].endswith("cost $0.0000")


def test_nothing_waiting_says_how_long_it_has_waited(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress("slow", 3, interval_s=0.05)
    time.sleep(0.12)
    bar.close()
    assert re.search(r"^slow: 0/3 items, \d+\.\d s elapsed$", capsys.readouterr().err, re.MULTILINE)


@pytest.mark.parametrize(("quiet", "lines"), [(True, True), (False, False)])
def test_quiet_or_a_library_off_a_terminal_prints_nothing(capsys: pytest.CaptureFixture[str], quiet: bool,
                                                          lines: bool) -> None:
    """--quiet; and a library call whose stderr is no terminal (a notebook's) sees what tqdm always showed there."""
    with progress.settings(quiet=quiet, lines=lines):
        bar = Progress("quiet", 2, interval_s=0.01)
        bar.update(2)
        time.sleep(0.05)
        bar.close()
        progress.say("fitting")
    assert capsys.readouterr().err == ""


def test_a_failed_reviewer_has_no_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress("failed", 2)
    bar.close(summary=False)
    assert capsys.readouterr().err == ""

"""The HTML report in a real browser (headless Chromium): hostile content stays inert text.

Set UPDATE_SCREENSHOT=1 to copy the screenshot to docs/report-screenshot.png for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.browser import Dom, run_chromium
from support.record_factory import IMG, LINK, SCRIPT, build_record

from harness.reporting import write_reports

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reports(build_record(), tmp_path_factory.mktemp("report"))


def test_browser_dom_keeps_hostile_content_as_text(chromium: str, report: Path, tmp_path: Path) -> None:
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom(result.stdout)
    text = "".join(dom.text)
    assert dom.title == "Policy test: toy-report"  # a script setting document.title would have left 'pwned'
    assert "Launch verdict" in text and "not ready" in text and "inconclusive" in text  # body not replaced
    for hostile in (SCRIPT, IMG, LINK):
        assert hostile in text
    assert not [t for t, _ in dom.tags if t == "script"]
    assert not [a for t, a in dom.tags if t == "img" and "onerror" in a]
    assert not [a for t, a in dom.tags if t == "a" and (a.get("href") or "").startswith("javascript:")]


def test_browser_screenshot_is_a_png(chromium: str, report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = run_chromium(chromium, tmp_path / "profile", "--hide-scrollbars", f"--screenshot={shot}",
                          "--window-size=1280,2000", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kilobytes
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

"""The HTML report in a real browser (headless Chromium): hostile content stays inert text.

Set UPDATE_SCREENSHOT=1 to copy the screenshot to docs/report-screenshot.png for the README.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from record_factory import IMG, LINK, SCRIPT, build_record

from harness.reporting import write_reports

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-screenshot.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and installing it needs root")
    try:
        subprocess.run(["bash", "-c", "apt-get update && apt-get install -y chromium"], check=True, timeout=600,
                       capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        pytest.skip(f"could not install chromium with apt-get ({type(err).__name__}): {str(err)[:200]}")
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not found:
        pytest.skip("apt-get install chromium finished but no chromium binary was found")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reports(build_record(), tmp_path_factory.mktemp("report"))


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=180, check=False)


class Dom(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.text.append(data)


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

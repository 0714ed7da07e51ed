"""The portfolio page in headless Chromium: it renders, hostile names stay inert text, no script runs.

Set UPDATE_SCREENSHOT=1 to copy the screenshot to docs/portfolio-screenshot.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.browser import Dom, run_chromium
from support.portfolio_runs import HOSTILE, Built

from harness.portfolio import collect, write_portfolio

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "portfolio-screenshot.png"


@pytest.fixture(scope="module")
def page(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    html, _ = write_portfolio(collect([built.root / "runs"]), tmp_path_factory.mktemp("page"))
    return html


def test_browser_dom_keeps_hostile_names_as_text(chromium: str, page: Path, tmp_path: Path) -> None:
    result = run_chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom(result.stdout)
    text = "".join(dom.text)
    assert "Launch readiness per policy version" in text and "Language readiness" in text
    assert HOSTILE in text
    assert not [t for t, _ in dom.tags if t == "script"]
    assert not [a for t, a in dom.tags if t == "img"]
    assert [t for t, _ in dom.tags if t == "svg"]  # the trend charts rendered inline


def test_browser_screenshot(chromium: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = run_chromium(chromium, tmp_path / "profile", "--hide-scrollbars", f"--screenshot={shot}",
                       "--window-size=1280,2200", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)

"""Render the launch report of a real run directory to a PNG with headless Chromium: the README's
screenshot is made this way, so it shows the report `make demo` writes, not an older one.

    make demo && python docs/screenshot.py reports/quickstart docs/report-screenshot.png

`make screenshot` does both. The report is rendered again from the run's record (so a change to the
report's look shows without judging anything again), into a temporary folder, and photographed there.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 1600
# As the page tests run it (tests/support/browser.py): no network chatter, no first-run pages.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--hide-scrollbars"]


def chromium() -> str:
    """The Chromium binary, or an error that says how to install it."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not found:
        raise SystemExit(f"{CHROMIUM} is missing: install it with 'apt-get install chromium' (make services does "
                         "this as root)")
    return found


def screenshot(run_dir: Path, out: Path, *, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """Render run_dir's report afresh and write its first `height` pixels at `width` to `out` (PNG)."""
    from harness.record import read_record
    from harness.reporting.html import render_html

    html = render_html(read_record(run_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
                               f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()],
                              capture_output=True, text=True, timeout=180, check=False)
        if not shot.is_file():
            raise SystemExit(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        shutil.copyfile(shot, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("run_dir", type=Path, help="a run directory written by 'policy-harness run'")
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/report-screenshot.png"))
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    args = parser.parse_args(argv)
    print(f"wrote {screenshot(args.run_dir, args.out, width=args.width, height=args.height)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

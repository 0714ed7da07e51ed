"""docs/screenshot.py makes the README's screenshot from a real run directory, so it cannot drift from the report."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

from support.record_factory import build_record

from harness.record import write_record

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "screenshot.py"
COMMITTED = REPO / "docs" / "report-screenshot.png"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_script_photographs_a_run_directory_at_the_committed_size(tmp_path: Path, chromium: str) -> None:
    run = tmp_path / "run"
    write_record(build_record(), run)
    out = tmp_path / "shot.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(SCRIPT), str(run), str(out)], capture_output=True, text=True,
                          timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert png_size(out) == png_size(COMMITTED) == (1280, 1600)

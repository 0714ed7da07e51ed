"""exit_skipping_teardown: a command's process ends with main's exit code, its output complete and
every exit handler run, without the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_main(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent("""\
        import atexit, sys
        from harness._util.processes import exit_skipping_teardown

        def main() -> int:
        {body}

        exit_skipping_teardown(main)
        """).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    return subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)


def test_exit_code_output_and_later_exit_handlers_survive() -> None:
    done = run_main("""\
        atexit.register(lambda: print("handler ran", file=sys.stderr))
        print("x" * 200_000, end="")  # more than a pipe buffer: all of it must arrive
        return 3
        """)
    assert done.returncode == 3
    assert done.stdout == "x" * 200_000
    assert done.stderr == "handler ran\n"


def test_an_uncaught_error_still_prints_its_traceback_and_exits_1() -> None:
    done = run_main("raise RuntimeError('boom')")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "RuntimeError: boom" in done.stderr


def test_sys_exit_inside_main_keeps_its_code() -> None:
    assert run_main("sys.exit(2)").returncode == 2
    assert run_main("sys.exit(None)").returncode == 0
    message = run_main("sys.exit('stopped')")
    assert message.returncode == 1 and message.stderr.strip() == "stopped"


def test_the_command_line_keeps_argparse_exit_codes() -> None:
    usage = subprocess.run([sys.executable, "-m", "harness", "run"], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    helped = subprocess.run([sys.executable, "-m", "harness", "--help"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0 and "policy-harness" in helped.stdout

"""Child processes and loopback ports: what the managed servers (local model, tests, benchmarks) share."""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """Terminate a child process, killing it if it does not exit within `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def harness_child(code: str, *args: str) -> list[str]:
    """The command line of a child Python process that runs `code` (with `args` as sys.argv[1:]) and
    imports this same harness package. Where the parent found the package goes last on the child's
    path: a notebook may have put it on sys.path by hand, and an installed package is found first as usual."""
    package_root = str(Path(__file__).resolve().parents[2])  # harness/_util/processes.py -> the folder holding harness/
    # -P: not the working directory first on the path, as `python -c` would put it (a folder holding its own
    # harness/ or mlflow.py must not be imported by the child when the command itself does not).
    return [sys.executable, "-P", "-c", f"import sys; sys.path.append(sys.argv.pop(1)); {code}", package_root,
            *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def exit_skipping_teardown(main: Callable[[], int]) -> NoReturn:
    """`sys.exit(main())` for a command-line process, minus the interpreter's teardown.

    Python ends a process by joining its threads, running the exit handlers, then freeing every
    module's objects one by one: more than a second once mlflow, scipy and pandas are loaded, with
    every output already written. The handler registered here, first, runs last: after the others
    (MLflow's, tqdm's, temporary directories'), it flushes the streams and ends the process with
    main's exit code (1 after an uncaught exception, whose traceback has been printed by then)."""
    code = [1]

    def end() -> None:
        logging.shutdown()  # registered before this handler, so it would run after it: never
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
                pass
        os._exit(code[0])

    atexit.register(end)
    try:
        code[0] = main()
    except SystemExit as stop:  # argparse's usage errors and --help
        code[0] = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        raise
    sys.exit(code[0])

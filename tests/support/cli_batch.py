"""Run many CLI invocations fast: import the harness once, then fork one child per invocation.

Each child is a real process running `harness._cli.main.main` exactly as `python -m harness` does (its own
working directory, environment, stdout and stderr files, exit status; an uncaught exception prints
a traceback and exits 1, as the interpreter would). Forking skips ~1-5 s of imports per invocation.

    python cli_batch.py jobs.json   # [{"cwd", "args", "env", "stdout", "stderr"}] -> jobs.json.out
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def _child(job: dict) -> None:
    code: object = 1
    try:
        os.chdir(job["cwd"])
        os.environ.update(job["env"])
        for fd, name in ((1, job["stdout"]), (2, job["stderr"])):
            target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        from harness._cli.main import main

        sys.argv = ["policy-harness", *job["args"]]
        try:
            code = main(job["args"])
        except SystemExit as stop:
            code = stop.code
        except BaseException:  # what the interpreter would print for an uncaught exception
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def main(path: str, parallel: int = 2) -> None:
    import datasets  # noqa: F401
    import litellm  # noqa: F401

    import harness._cli.main
    import harness.evalset
    import harness.pipeline.run
    import harness.pipeline.validate
    import harness.reviewers.llm  # noqa: F401

    jobs = json.loads(open(path, encoding="utf-8").read())
    codes: dict[int, int] = {}
    running: dict[int, int] = {}
    started: dict[int, float] = {}
    seconds: dict[int, float] = {}
    pending = list(enumerate(jobs))
    while pending or running:
        while pending and len(running) < parallel:
            index, job = pending.pop(0)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(job)
            running[pid] = index
            started[index] = time.monotonic()
        pid, status = os.wait()
        index = running.pop(pid)
        codes[index] = os.waitstatus_to_exitcode(status)
        seconds[index] = round(time.monotonic() - started[index], 3)
    with open(path + ".out", "w", encoding="utf-8") as handle:
        json.dump({"codes": [codes[i] for i in range(len(jobs))], "seconds": [seconds[i] for i in range(len(jobs))]},
                  handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)

"""`policy-harness COMMAND`: builds the parser from the command groups (run, score, loop, training,
workspace, portfolio) and runs the command, turning a HarnessError, a failed write or Ctrl-C into
one line on stderr and an exit status. Each command imports what it needs when it runs."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from harness._cli import batch, corrections, globalization, impact, loop, portfolio, run, score, training, workspace
from harness._cli import explain as explain_cli
from harness._cli import perturb as perturb_cli
from harness._util.logs import log_warnings_to_stderr
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# In the order `--help` lists them.
_COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    run.add_validate, run.add_run, run.add_estimate,
    score.add_score, score.add_compare, score.add_runs, score.add_sync, score.add_rescore,
    workspace.add_plan, run.add_report, workspace.add_generate,
    loop.add_lint, loop.add_diagnose, loop.add_revise, loop.add_promote,
    workspace.add_init, training.add_quiz, training.add_proficiency, workspace.add_schema,
    portfolio.add_portfolio,
    globalization.add_export, globalization.add_translate,
    perturb_cli.add_perturb, impact.add_impact, corrections.add_corrections, batch.add_batch,
    explain_cli.add_explain,
)

# Why an output could not be written, and what to do about it.
_WRITE_ERRORS = {
    errno.ENOSPC: ("no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space"),
    errno.EFBIG: ("file too large for the file system", "choose another --out"),
    errno.EACCES: ("permission denied", "choose a writable --out or fix its permissions"),
    errno.EPERM: ("permission denied", "choose a writable --out or fix its permissions"),
    errno.EROFS: ("read-only file system", "choose a writable --out"),
    errno.EEXIST: ("it is a file, not a directory", "choose another --out"),
    errno.ENOTDIR: ("part of the path is a file, not a directory", "choose another --out"),
}


def parser() -> argparse.ArgumentParser:
    """The `policy-harness` parser with every command."""
    top = argparse.ArgumentParser(prog="policy-harness",
                                  description="Test a draft content policy: over-enforcement and leakage with intervals.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the command; returns its exit status (2: a HarnessError or an output
    that could not be written, 130: interrupted)."""
    args = parser().parse_args(argv)
    log_warnings_to_stderr()
    try:
        return int(args.func(args) or 0)
    except HarnessError as err:
        source = getattr(args, "source_file", None)
        if err.path is None and source:  # a problem in what the file asks for: name the file
            err.path, err.args = source, (f"{source}: {err.message}",)
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # the reader went away (`| head`): what it read was all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        # Inputs are read with HarnessErrors of their own, so what reaches here failed to be written.
        if err.errno not in _WRITE_ERRORS:
            raise
        reason, fix = _WRITE_ERRORS[err.errno]
        print(f"error: could not write {err.filename or 'the outputs'} ({reason}); {fix} and re-run: "
              "cached judgements are kept.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every judgement already returned is kept in the cache; re-run to resume.",
              file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `policy-harness` command and `python -m harness`: main(), then an exit without the
    interpreter's teardown (see exit_skipping_teardown); `main` itself stays safe to call in-process."""
    from harness._util.processes import exit_skipping_teardown

    exit_skipping_teardown(main)


if __name__ == "__main__":
    sys.exit(main())

"""What the command modules share: the subparsers type and the arguments several commands take."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # argparse's class is generic only to type checkers
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
Command = Callable[[argparse.Namespace], int]


def add_command(sub: Subparsers, name: str, func: Command, help: str) -> argparse.ArgumentParser:
    """A subcommand whose arguments are parsed into a Namespace and handed to `func`."""
    parser = sub.add_parser(name, help=help)
    parser.set_defaults(func=func)
    return parser


def add_out(parser: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """--out: where the command writes (each command says where it writes without it)."""
    parser.add_argument("--out", required=required, help=help)


def add_no_track(parser: argparse.ArgumentParser, help: str = "do not log to MLflow") -> None:
    """--no-track: leave MLflow alone (the command's outputs on disk are written all the same)."""
    parser.add_argument("--no-track", action="store_true", help=help)


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on stderr (a bar in a terminal, else a line every few seconds)")


def progress_shown(args: argparse.Namespace) -> contextlib.AbstractContextManager[None]:
    """Progress for the command's reviewers: a bar in a terminal, lines off one, none with --quiet."""
    from harness._util import progress

    return progress.settings(quiet=bool(args.quiet), lines=True)

"""The portfolio: every policy, version and language on one page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_out

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_portfolio(sub: Subparsers) -> None:
    p = add_command(sub, "portfolio", _portfolio,
                    "launch readiness, time to deploy, languages and training across all policies")
    add_out(p, "folder for portfolio.html and portfolio.json", required=True)
    p.add_argument("--from", dest="from_dirs", nargs="+", metavar="DIR",
                   help="run directories (or folders holding them) instead of the MLflow store")


def _portfolio(args: argparse.Namespace) -> int:
    from harness.portfolio import collect, write_portfolio
    from harness.portfolio.page import portfolio_text

    portfolio = collect([Path(d) for d in args.from_dirs] if args.from_dirs else None)
    html, data = write_portfolio(portfolio, Path(args.out))
    print(portfolio_text(portfolio, html, data))
    return 0

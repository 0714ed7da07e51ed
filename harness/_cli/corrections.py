"""`policy-harness corrections RUN`: human corrections made in MLflow's UI, read back for `rescore`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_out

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_corrections(sub: Subparsers) -> None:
    p = add_command(sub, "corrections", _corrections,
                    "gold labels and verdicts corrected in MLflow's UI, one item per line, and corrected gold for rescore")
    p.add_argument("run", help="a run directory, its parent MLflow run id, or one reviewer run id")
    add_out(p, "where the corrected eval set and experiment file go (default: <run_dir>/corrections, "
               "or ./corrections-<run id>)")


def _corrections(args: argparse.Namespace) -> int:
    from harness.tracking.corrections import read_corrections, write_corrected

    found = read_corrections(args.run)
    for correction in found.corrections:
        print(correction.line())
    source = Path(args.run)
    out = Path(args.out) if args.out else (source / "corrections" if source.is_dir() else Path(f"corrections-{args.run}"))
    experiment = write_corrected(found, out)
    gold = sum(c.field == "gold" for c in found.corrections)
    print(f"{len(found.corrections)} correction(s), {gold} of gold; corrected eval set: {out}")
    if experiment is not None:
        print(f"  rescore with: policy-harness rescore <run_dir> --experiment {experiment}")
    return 0

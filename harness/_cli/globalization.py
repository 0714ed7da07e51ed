"""Global readiness: `export dsa` (regulators' accuracy tables)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_out

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_export(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="stored runs as tables for others (dsa: a DSA transparency report)")
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    dsa = formats.add_parser("dsa", help="accuracy and error indicators per category and language in the layout "
                                         "of the DSA transparency-report template's section on automated means")
    dsa.set_defaults(func=_export_dsa)
    dsa.add_argument("--from", dest="from_dirs", nargs="+", metavar="RUN_DIR", required=True,
                     help="run directories written by run or score")
    add_out(dsa, "folder for dsa_export.json and dsa_export.csv", required=True)
    dsa.add_argument("--min-sample", type=int, default=30, metavar="N",
                     help="flag figures on fewer items than this (default 30); they are shown all the same")
    dsa.add_argument("--period-start", metavar="DATE", help="start of the reporting period (default: first run's date)")
    dsa.add_argument("--period-end", metavar="DATE", help="end of the reporting period (default: last run's date)")


def _export_dsa(args: argparse.Namespace) -> int:
    from harness.pipeline.dsa import export_dsa
    from harness.record.dsa import DSA_CSV, DSA_JSON

    out = Path(args.out)
    export = export_dsa([Path(d) for d in args.from_dirs], out, minimum_sample=args.min_sample,
                        period_start=args.period_start, period_end=args.period_end)
    flagged = sum(getattr(r, i).below_minimum_sample for r in export.rows
                  for i in ("accuracy", "error_rate", "false_positive_rate", "false_negative_rate"))
    print(f"{len(export.rows)} rows ({export.period_start} to {export.period_end}, "
          f"{', '.join(v.label for v in export.policy_versions)}); {flagged} figures below the minimum sample of "
          f"{export.minimum_sample}, flagged.\n{out / DSA_JSON}\n{out / DSA_CSV}")
    return 0

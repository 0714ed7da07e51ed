"""`impact`: a run's error rates as actions, review hours and appeals per day, with intervals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_no_track, add_out

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_impact(sub: Subparsers) -> None:
    p = add_command(sub, "impact", _impact,
                    "forecast actions, wrongful actions, review hours, reviewers and appeals per day from a run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (policy-harness run or score)")
    p.add_argument("--volumes", required=True, metavar="VOLUMES",
                   help="CSV or Parquet: items_per_day per slice combination, optionally prevalence and prevalence_n")
    p.add_argument("--ops", required=True, metavar="OPS.yaml", help="review routing, handling times, appeals, costs")
    add_out(p, "folder for impact.json and impact.html", required=True)
    p.add_argument("--reviewer", help="the reviewer to forecast (needed when the run has several)")
    p.add_argument("--prevalence-from", metavar="DIR",
                   help="a score run directory whose prediction-powered or weighted prevalence is used")
    p.add_argument("--language-column", help="the volumes' slice column that names the language "
                                             "(default: 'language' or 'lang' when present)")
    add_no_track(p)


def _impact(args: argparse.Namespace) -> int:
    from harness.pipeline.impact import compute_impact, impact_text, write_impact

    result = compute_impact(Path(args.run_dir), Path(args.volumes), Path(args.ops), reviewer=args.reviewer,
                            prevalence_from=Path(args.prevalence_from) if args.prevalence_from else None,
                            language_column=args.language_column)
    data, html = write_impact(result, Path(args.out), log=not args.no_track)
    print(impact_text(result, data, html))
    return 0

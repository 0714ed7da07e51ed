"""Global readiness: `export dsa` (regulators' accuracy tables) and `translate` (translated eval sets with review)."""

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


def add_translate(sub: Subparsers) -> None:
    p = sub.add_parser("translate", help="machine-translate eval items with the author model for native review; "
                                         "--reviewed builds the reviewed set from the filled sheet")
    p.set_defaults(func=_translate)
    p.add_argument("source", nargs="?", metavar="EVAL_SET_OR_EXPERIMENT",
                   help="an experiment file (its eval set) or an eval-set file read with --experiment's columns")
    p.add_argument("--to", help="target languages as BCP 47 tags, comma-separated (de,fr,pt-BR)")
    p.add_argument("--experiment", help="the experiment whose author: model translates (default: SOURCE)")
    p.add_argument("--reviewed", metavar="REVIEW_CSV", help="a filled DIR/review.csv: build the reviewed eval set")
    add_out(p, "folder for items.csv, review.csv and eval_set.yaml", required=True)


def _translate(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.loop.translate import build_reviewed

    out = Path(args.out)
    if args.reviewed:
        if args.source or args.to:
            raise HarnessError("--reviewed builds the reviewed set from a filled sheet; drop SOURCE and --to.")
        items = build_reviewed(Path(args.reviewed), out)
        reviewed = int((items["origin"] == "reviewed_translation").sum())
        print(f"{reviewed} reviewed translations and {len(items) - reviewed} source items: {out / 'items.csv'}")
        return 0
    if not args.source or not args.to:
        raise HarnessError("translate needs EVAL_SET_OR_EXPERIMENT and --to (e.g. --to de,fr), or --reviewed "
                           "DIR/review.csv.")
    from harness._util.event_loop import run_sync
    from harness.config import load_experiment
    from harness.loop.translate import target_languages, translate

    experiment_path = args.experiment or args.source
    if not experiment_path.endswith((".yaml", ".yml")):
        raise HarnessError("give --experiment X.yaml: its author: model translates.")
    args.source_file = experiment_path
    experiment = load_experiment(experiment_path)
    result = run_sync(translate(args.source, experiment, target_languages(args.to), out))
    print(f"{result.translated} translations written for review: {out / 'review.csv'} "
          f"(fill its review column: accept, fix or reject)")
    for line in result.failed[:10]:
        print(f"  not translated: {line}")
    return 0

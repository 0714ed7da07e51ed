"""Commands on decisions already made and on stored runs: score, compare, runs, sync, rescore."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_no_track, add_out
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_score(sub: Subparsers) -> None:
    p = add_command(sub, "score", _score, "metrics and report from decisions made elsewhere (a predictions file)")
    p.add_argument("file", metavar="SOURCE",
                   help="the log: a CSV, TSV, JSONL or Parquet file, a glob or a (hive-partitioned) folder of them, "
                        "or an Ibis connection URL (duckdb:///abs/logs.duckdb, postgres://user@host/db, "
                        "bigquery://..., snowflake://..., trino://...) with --table; with --engine spark and --table, "
                        "the Spark catalog's database that holds the table")
    p.add_argument("--table", help="the table that holds the log, behind a connection URL or in the Spark catalog")
    p.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                   help="what reads files: DuckDB embedded (default) or Spark (needs policy-harness[spark] and Java 17)")
    p.add_argument("--spark-master", default="local[*]", help="Spark master URL with --engine spark (default local[*])")
    p.add_argument("--gold", required=True, help="gold label column")
    p.add_argument("--pred", required=True, action="append", help="prediction column (repeat for several reviewers)")
    p.add_argument("--benign", action="append", help="values meaning benign (default: benign, 0, false, allow)")
    p.add_argument("--slices", nargs="+", default=[], help="slice columns")
    p.add_argument("--id", dest="id_column", help="item id column (default: row numbers)")
    p.add_argument("--text", dest="text_column", help="item text column, for the report's examples")
    p.add_argument("--strata", dest="strata_column",
                   help="stratum column: stratified prediction-powered prevalence when some gold cells are blank")
    p.add_argument("--weight", dest="weight_column",
                   help="sampling-weight column (inverse inclusion probability): adds population estimates")
    add_out(p, "output directory (default: reports/score-<name>-<time>)")
    add_no_track(p)


def add_compare(sub: Subparsers) -> None:
    p = add_command(sub, "compare", _compare, "paired comparison of two runs (output directories or MLflow run ids)")
    p.add_argument("a", help="the 'before' run")
    p.add_argument("b", help="the 'after' run")
    add_out(p, "directory for compare.json and compare.html (default: reports/compare-<time>)")
    add_no_track(p, "do not log the comparison to MLflow")


def add_runs(sub: Subparsers) -> None:
    p = add_command(sub, "runs", _runs, "list recent MLflow runs with their headline numbers")
    p.add_argument("--policy", help="policy id")
    p.add_argument("--version", help="policy version")
    p.add_argument("--reviewer", help="reviewer name")
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--proficiency", action="store_true",
                   help="list proficiency gradings instead: each reviewer's accuracy and certification")
    p.add_argument("--drift", action="store_true",
                   help="with --reviewer: that reviewer's drift canaries run by run (agreement with the run before)")
    p.add_argument("--experiment", help="with --drift: read the canary history beside this experiment's cache: file")


def add_sync(sub: Subparsers) -> None:
    p = add_command(sub, "sync", _sync, "log a run to MLflow whose tracking failed (e.g. the server was down)")
    p.add_argument("run_dirs", nargs="+", help="directories written by 'run', 'score' or 'rescore'")


def add_rescore(sub: Subparsers) -> None:
    p = add_command(sub, "rescore", _rescore,
                    "rebuild metrics and report from a stored run without calling reviewers")
    p.add_argument("run_dir", help="directory written by 'run'")
    p.add_argument("--experiment", help="experiment file whose eval-set mapping (gold, slices) and gates to apply")
    add_out(p, "output directory (default: <run_dir>-rescored-<time>)")
    add_no_track(p)


def _score(args: argparse.Namespace) -> int:
    from harness.pipeline.finish import default_out_dir, finish
    from harness.pipeline.score import score_file
    from harness.reporting.console import summary

    record = score_file(args.file, gold=args.gold, preds=args.pred, benign=args.benign, slices=args.slices,
                        id_column=args.id_column, text_column=args.text_column, weight=args.weight_column,
                        strata=args.strata_column, table=args.table, engine=args.engine,
                        spark_master=args.spark_master)
    finish(record, default_out_dir(record.name, command="score", out=args.out), track=not args.no_track, report=True)
    print(summary(record))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from harness._cli.output import comparison_lines
    from harness.pipeline.compare import compare, write_comparison
    from harness.pipeline.finish import default_out_dir
    from harness.tracking.comparison import log_comparison

    result = compare(args.a, args.b)
    out = default_out_dir(command="compare", out=args.out)
    write_comparison(result, out)
    print(comparison_lines(result, out))
    if not args.no_track and (run_id := log_comparison(result, out)):
        print(f"  mlflow run: {run_id}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from harness._cli.output import grading_line, gradings_header, run_line, runs_header
    from harness.tracking.runs import list_gradings, list_runs

    query = {"policy": args.policy, "version": args.version, "reviewer": args.reviewer, "limit": args.limit}
    if args.drift:
        return _drift(args.reviewer, args.experiment)
    if args.proficiency:
        gradings = list_gradings(**query)
        if not gradings:
            print("no proficiency gradings found")
        else:
            print(gradings_header())
        for g in gradings:
            print(grading_line(g))
        return 0
    runs = list_runs(**query)
    if not runs:
        print("no policy-harness runs found")
    else:
        print(runs_header())
    for r in runs:
        print(run_line(r))
    return 0


def _drift(reviewer: str | None, experiment_path: str | None) -> int:
    from harness.config import load_experiment
    from harness.pipeline.canaries import history_file, reviewer_history
    from harness.reporting.drift import history_lines

    if not reviewer:
        raise HarnessError("'runs --drift' shows one reviewer's canaries over time; add --reviewer NAME.")
    path = history_file(load_experiment(experiment_path) if experiment_path else None)
    print("\n".join(history_lines(reviewer, reviewer_history(reviewer, path))))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from harness.tracking.runs import sync_dir

    for raw in args.run_dirs:
        record = sync_dir(Path(raw))
        print(f"synced {raw}: parent run {record.mlflow.parent_run_id}")
    return 0


def _rescore(args: argparse.Namespace) -> int:
    from harness.pipeline.rescore import rescore
    from harness.reporting.console import summary

    record = rescore(Path(args.run_dir), experiment_path=args.experiment,
                     out_dir=Path(args.out) if args.out else None, track=not args.no_track)
    print(summary(record))
    return 0

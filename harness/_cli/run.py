"""Commands on one experiment: validate, run, estimate, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_no_track, add_out, add_quiet, progress_shown
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers
    from harness.config import Experiment


def add_validate(sub: Subparsers) -> None:
    p = add_command(sub, "validate", _validate,
                    "check policies, eval sets and experiments without calling any reviewer")
    p.add_argument("paths", nargs="+", help="experiment .yaml, policy .md, or eval-set files")


def add_run(sub: Subparsers) -> None:
    p = add_command(sub, "run", _run, "run an experiment: judge, score, track, report")
    p.add_argument("experiment", help="experiment YAML file")
    add_out(p, "output directory (default: reports/<name>-<time>)")
    p.add_argument("--limit", type=int, help="judge a seeded sample of N items, stratified by gold label")
    add_no_track(p)
    p.add_argument("--timings", action="store_true", help="print how long each stage took (to stderr)")
    add_quiet(p)


def add_estimate(sub: Subparsers) -> None:
    p = add_command(sub, "estimate", _estimate, "forecast LLM calls, tokens and cost before anything is sent")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--limit", type=int, help="as for 'run'")
    p.add_argument("--revise", action="store_true", help="forecast 'revise' (the experiment's author section)")
    p.add_argument("--perturb", action="store_true", help="forecast 'perturb': the original and every policy variant")


def add_report(sub: Subparsers) -> None:
    p = add_command(sub, "report", _report, "re-render the report of a stored run directory")
    p.add_argument("run_dir", help="directory written by 'run'")


def _validate(args: argparse.Namespace) -> int:
    from harness.pipeline.validate import validate_path

    for raw in args.paths:
        args.source_file = raw
        print(validate_path(Path(raw)))
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise HarnessError(f"--limit must be a whole number of at least 1. Got {args.limit} instead.")
    from harness.pipeline.warm import Finisher

    # Started first, so that its imports overlap everything below.
    with Finisher.start() if Finisher.worthwhile() else Finisher(None, None) as finisher:
        from harness._util.event_loop import run_sync
        from harness._util.timings import log_start_up, print_timings, stage
        from harness.config import load_experiment
        from harness.pipeline.finish import InProcess
        from harness.pipeline.run import judge_and_finish

        if args.timings:
            print_timings()
            log_start_up()
        with stage("experiment"):
            experiment = load_experiment(args.experiment)
            args.source_file = args.experiment
            _print_lint_summaries(experiment)
            _print_cache(experiment)
        finishing = finisher if finisher.alive else InProcess()
        with progress_shown(args):
            record = run_sync(judge_and_finish(experiment, finishing, out_dir=args.out, limit=args.limit,
                                               track=not args.no_track))
    from harness.reporting.console import summary

    print(summary(record))
    return 3 if record.incomplete else 0


def _print_lint_summaries(experiment: Experiment) -> None:
    from harness.policy.lint import lint_summary

    for policy in filter(None, (experiment.policy, experiment.baseline)):
        path = experiment.resolve(policy)
        if Path(path).is_file():  # a missing file is reported by the run itself
            print(lint_summary(path), flush=True)


def _print_cache(experiment: Experiment, *, author: bool = False) -> None:
    """Where the judgements of this experiment's model calls are kept (when it makes any)."""
    from harness.reviewers import Estimating, has_capability
    from harness.reviewers.cache import cache_summary

    # A reviewer whose calls can be estimated makes model calls, and so keeps judgements in the cache.
    if any(has_capability(c, Estimating) for c in experiment.reviewers) or (author and experiment.author):
        print(cache_summary(experiment.cache_file), flush=True)


def _estimate(args: argparse.Namespace) -> int:
    from harness.config import load_experiment

    experiment = load_experiment(args.experiment)
    args.source_file = args.experiment
    if args.revise:
        from harness.loop.forecast import forecast_revise, forecast_text

        if args.limit:
            raise HarnessError("--limit does not apply with --revise, because revise reads the experiment's own "
                               "'limit:'; set it there instead.")
        print(forecast_text(forecast_revise(experiment)))
        _print_cache(experiment, author=True)
        return 0
    if args.perturb:
        from harness._cli.perturb import print_perturb_forecast

        print_perturb_forecast(experiment, args.limit)
        _print_cache(experiment)
        return 0
    from harness.pipeline.estimate import estimate_run, estimate_text

    print(estimate_text(estimate_run(experiment, args.limit)))
    _print_cache(experiment)
    return 0


def _report(args: argparse.Namespace) -> int:
    from harness.record import read_record
    from harness.reporting import write_reports

    record = read_record(args.run_dir)
    print(f"report: {write_reports(record, Path(args.run_dir))}")
    return 0

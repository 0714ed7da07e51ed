"""`batch export` and `batch import`: judge an experiment's uncached items on a GPU cluster (vLLM, Ray Data)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_batch(sub: Subparsers) -> None:
    p = sub.add_parser("batch", help="judge elsewhere: uncached judgements out as OpenAI batch lines, answers back in")
    inner = p.add_subparsers(dest="batch_command", required=True, metavar="{export,import}")
    e = add_command(inner, "export", _export, "write the uncached judgements as OpenAI batch request lines")
    e.add_argument("experiment", help="experiment YAML file")
    e.add_argument("--out", required=True, help="the JSONL to write (e.g. requests.jsonl)")
    e.add_argument("--limit", type=int, help="as for 'run'")
    i = add_command(inner, "import", _import, "store a batch job's answers in the judgement cache")
    i.add_argument("results", help="the job's output JSONL (vllm run-batch -o, a Ray Data job's output)")
    i.add_argument("--experiment", required=True, help="the experiment YAML the requests were exported from")
    i.add_argument("--limit", type=int, help="as given to 'batch export'")


def _export(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.pipeline.cluster import export_requests

    experiment = load_experiment(args.experiment)
    args.source_file = args.experiment
    written, total = export_requests(experiment, Path(args.out), args.limit)
    print(f"wrote {written:,} request lines to {args.out} ({total - written:,} of {total:,} judgements are "
          "cached already)")
    return 0


def _import(args: argparse.Namespace) -> int:
    from harness.config import load_experiment
    from harness.pipeline.cluster import import_results, problem_lines

    experiment = load_experiment(args.experiment)
    args.source_file = args.experiment
    done = import_results(experiment, Path(args.results), args.limit)
    for problem in problem_lines(done):
        print(f"skipped {problem}", file=sys.stderr)
    if not done.stored and not done.already:
        raise HarnessError(f"no answer was imported ({len(done.problems):,} lines skipped); check that the file is "
                           "the output of the requests 'batch export' wrote for this experiment.",
                           path=args.results)
    print(f"imported {done.stored:,} answers into the judgement cache ({done.already:,} were cached already, "
          f"{len(done.problems):,} lines skipped); 'run' now judges only the rest")
    return 0

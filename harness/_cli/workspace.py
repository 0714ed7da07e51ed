"""Setting up: init (a starter workspace), plan (how many items), generate (functional test items),
schema (the published JSON Schemas)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_out
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_plan(sub: Subparsers) -> None:
    p = add_command(sub, "plan", _plan, "items needed: a rate within a margin, or a change between versions (paired)")
    p.add_argument("--rate", type=float, help="expected rate, e.g. 0.05 (over-enforcement or leakage)")
    p.add_argument("--margin", type=float,
                   help="how far the interval may reach from the rate on either side, e.g. 0.02")
    p.add_argument("--slices", type=int, default=1, help="number of slices that each need that precision")
    p.add_argument("--paired", action="store_true", help="plan a paired comparison of two policy versions")
    p.add_argument("--p-discordant", type=float, help="share of items whose verdict flips between versions")
    p.add_argument("--change", type=float, help="change in the rate to detect, e.g. 0.03 or -0.03")
    p.add_argument("--power", type=float, default=0.8, help="wanted power (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")


def add_generate(sub: Subparsers) -> None:
    p = add_command(sub, "generate", _generate, "build functional test items (minimal pairs) from a templates file")
    p.add_argument("templates",
                   help="templates YAML (targets and functionalities, e.g. prompts/functional/hate_speech_en.yaml)")
    add_out(p, "CSV to write (columns id, text, label, functionality, target, language, ...)", required=True)


def add_init(sub: Subparsers) -> None:
    p = add_command(sub, "init", _init, "write a starter workspace (policy, labelled eval set, experiment, README)")
    p.add_argument("dir", help="a new or empty folder")


def add_schema(sub: Subparsers) -> None:
    p = add_command(sub, "schema", _schema, "list the files the harness writes, or print one's JSON Schema")
    p.add_argument("file", nargs="?", help="a schema name (metrics, record, compare, diagnosis, revise, quiz, "
                                            "proficiency, portfolio); without one, every file is listed")


def _plan(args: argparse.Namespace) -> int:
    from harness.metrics.planning import paired_text, plan_paired, plan_rate, rate_text

    if args.paired:
        if args.p_discordant is None or args.change is None:
            raise HarnessError("plan --paired needs --p-discordant and --change "
                               "(e.g. --p-discordant 0.1 --change 0.03).")
        print(paired_text(plan_paired(args.p_discordant, args.change, args.power, args.alpha)))
        return 0
    if args.rate is None or args.margin is None:
        raise HarnessError("plan needs --rate and --margin (e.g. --rate 0.05 --margin 0.02), or --paired.")
    if args.slices < 1:
        raise HarnessError(f"--slices must be a whole number of at least 1. Got {args.slices} instead.")
    print(rate_text(plan_rate(args.rate, args.margin, args.slices, args.alpha)))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from harness._cli.output import generated_line
    from harness.evalset.generate import generate, load_suite, write_items

    table = generate(load_suite(args.templates))
    print(generated_line(table, write_items(table, args.out)))
    return 0


def _init(args: argparse.Namespace) -> int:
    from harness._cli.output import workspace_lines
    from harness.workspace import EXPERIMENT_FILE, init_workspace

    target = Path(args.dir)
    print(workspace_lines(target, init_workspace(target), target / EXPERIMENT_FILE))
    return 0


def _schema(args: argparse.Namespace) -> int:
    import json

    from harness.record import json_schema, schema_listing

    if args.file is None:
        print(schema_listing())
        return 0
    print(json.dumps(json_schema(args.file), indent=2, ensure_ascii=False))
    return 0

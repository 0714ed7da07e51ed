"""The policy development loop: lint, diagnose, revise, promote."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command, add_no_track, add_out, add_quiet, progress_shown
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness._cli.args import Subparsers


def add_lint(sub: Subparsers) -> None:
    p = add_command(sub, "lint", _lint, "static findings on a policy draft (POLICY.md:LINE: CODE message)")
    p.add_argument("policies", nargs="+", help="policy .md files")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too (for CI)")


def add_diagnose(sub: Subparsers) -> None:
    p = add_command(sub, "diagnose", _diagnose,
                    "failure clusters of a stored run: by rule, by slice, by text similarity")
    p.add_argument("run_dir", help="directory written by 'run'")
    add_out(p, "where to write diagnosis.json (default: RUN_DIR/diagnosis.json)")
    p.add_argument("--experiment", help="experiment YAML whose 'author' section describes the largest clusters")


def add_revise(sub: Subparsers) -> None:
    p = add_command(sub, "revise", _revise,
                    "an author model proposes revisions; accept only what the held-out split proves")
    p.add_argument("experiment", help="experiment YAML file with an 'author:' section")
    add_out(p, "output directory (default: reports/<name>-revise-<time>)")
    add_no_track(p, "do not register accepted candidates in MLflow")
    add_quiet(p)


def add_promote(sub: Subparsers) -> None:
    p = add_command(sub, "promote", _promote, "copy an accepted candidate to v<N+1>.md beside the current policy")
    p.add_argument("candidate", help="a file under OUT/candidates/ written by revise")
    p.add_argument("--by", help="who approves it (default: git config user.name)")
    p.add_argument("--force", action="store_true", help="promote a candidate revise did not accept")
    add_no_track(p, "do not tag the registry version status=approved")


def _lint(args: argparse.Namespace) -> int:
    from harness.policy.lint import lint_file

    status = 0
    for raw in args.policies:
        args.source_file = raw
        result = lint_file(raw)
        for finding in result.findings:
            print(finding)
        print(result.summary())
        status = max(status, result.exit_code(strict=args.strict))
    return status


def _diagnose(args: argparse.Namespace) -> int:
    from harness.loop.diagnose import diagnose_dir, diagnosis_text

    author = None
    if args.experiment:
        from harness.config import load_experiment

        args.source_file = args.experiment
        author = load_experiment(args.experiment).author
        if author is None:
            raise HarnessError("has no 'author' section; add one (model, api_base, describe_clusters) to have "
                               "diagnose describe the clusters.", path=args.experiment)
        args.source_file = None  # what follows reads the run directory, which its own errors name
    diagnosis, path = diagnose_dir(Path(args.run_dir), out=Path(args.out) if args.out else None, author=author)
    print(diagnosis_text(diagnosis))
    print(f"  diagnosis.json: {path}")
    return 0


def _revise(args: argparse.Namespace) -> int:
    from harness._cli.output import revise_lines
    from harness.config import load_experiment
    from harness.loop.revise import revise

    args.source_file = args.experiment
    experiment = load_experiment(args.experiment)
    with progress_shown(args):
        revised = revise(experiment, out_dir=args.out, track=not args.no_track)
    print(revise_lines(revised))
    return 0


def _promote(args: argparse.Namespace) -> int:
    from harness._cli.output import promotion_lines
    from harness.loop.promote import promote

    args.source_file = args.candidate
    print(promotion_lines(promote(Path(args.candidate), by=args.by, force=args.force, track=not args.no_track)))
    return 0

"""`explain RUN_DIR`: rationales on demand for the verdicts a person opens in a run's report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command

if TYPE_CHECKING:
    from harness._cli.args import Subparsers
    from harness.pipeline.explain import Opened
    from harness.record.explanations import Explanation

DEFAULT_MAX = 40  # opened items explained per call (the report shows up to 40 exemplars per reviewer)
RATIONALE_SHOWN = 300  # characters of a rationale on its line; the whole of it is in explanations.json


def add_explain(sub: Subparsers) -> None:
    p = add_command(sub, "explain", _explain,
                    "generate the rationale of verdicts a first-token LLM reviewer decided without one "
                    "(the report's exemplars and failure clusters, or --item)")
    p.add_argument("run_dir", help="directory written by 'run'")
    p.add_argument("--item", dest="items", action="append", metavar="ID",
                   help="explain this item (repeat for several); default: the report's error exemplars and "
                        "failure-cluster members")
    p.add_argument("--reviewer", metavar="NAME", help="the LLM reviewer to explain (default: every one without rationales)")
    p.add_argument("--policy", metavar="LABEL", help="the policy version whose verdicts to explain (default: the candidate)")
    p.add_argument("--max", dest="max_items", type=int, default=DEFAULT_MAX,
                   help=f"explain at most N items (default {DEFAULT_MAX}); cached answers cost nothing")
    p.add_argument("--experiment", metavar="FILE",
                   help="the run's experiment file, when it names its prompt template or cache by a relative path")


def _explain(args: argparse.Namespace) -> int:
    from harness._util import progress
    from harness.pipeline.explain import explain_run

    # Each explained item prints its line as its answer arrives: that is the progress.
    with progress.settings(quiet=True, lines=True):
        result = explain_run(Path(args.run_dir), item_ids=args.items, reviewer=args.reviewer, policy=args.policy,
                             max_items=args.max_items, experiment_path=args.experiment, on_start=_starting,
                             on_explained=lambda e: print(explanation_line(e), flush=True))
    for opened, reason in result.failed:
        print(f"{opened.item_id}  {opened.reviewer}: not explained ({reason}); re-run explain to try again")
    if result.left_out:
        print(f"{result.left_out} more opened items not explained (--max {args.max_items}); raise --max for them")
    print(f"{len(result.explained)} explained ({result.calls} model calls, {result.cached} from the judgement cache)")
    if result.explained:
        print(f"explanations.json: {result.path}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 3 if result.failed else 0


def _starting(opened: list[Opened]) -> None:
    reviewers = ", ".join(dict.fromkeys(o.reviewer for o in opened))
    print(f"explaining {len(opened)} verdict{'s' if len(opened) != 1 else ''} of {reviewers}; each line as its "
          "answer arrives", flush=True)


def explanation_line(e: Explanation) -> str:
    """One explained item: its id first, the generated decision beside the verdict's, the rationale."""
    score = "" if e.verdict_score is None else f" (score {e.verdict_score:.2f})"
    verdict = f"verdict {e.verdict_decision}{score}"
    agreement = "agrees with the" if e.agrees else "DISAGREES with the"
    said = " ".join((e.rationale or e.abstain_reason or "(no rationale in the answer)").split())
    if len(said) > RATIONALE_SHOWN:
        said = said[:RATIONALE_SHOWN - 1] + "…"
    if e.source == "verdict":
        return f"{e.item_id}  {e.reviewer}: {e.decision} (the verdict's own rationale): {said}"
    return f"{e.item_id}  {e.reviewer}: {e.decision}, {agreement} {verdict}: {said}"

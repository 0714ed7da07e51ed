"""`perturb`: how much the rates move under meaning-preserving rewrites of the policy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness._cli.args import add_command

if TYPE_CHECKING:
    from harness._cli.args import Subparsers
    from harness.config import Experiment
    from harness.record.perturb import PerturbResult


def add_perturb(sub: Subparsers) -> None:
    p = add_command(sub, "perturb", _perturb,
                    "judge the items under meaning-preserving variants of the policy: how much do the rates move?")
    p.add_argument("experiment", help="experiment YAML file (its author: model writes the paraphrases)")
    p.add_argument("--out", required=True, help="output directory (perturb.json, variants/, verdicts.parquet)")
    p.add_argument("--limit", type=int, help="judge a seeded sample of this many items")


def _perturb(args: argparse.Namespace) -> int:
    from harness._util.event_loop import run_sync
    from harness.config import load_experiment
    from harness.errors import HarnessError
    from harness.pipeline.perturb import perturb

    args.source_file = args.experiment
    if args.limit is not None and args.limit < 1:
        raise HarnessError(f"--limit must be a whole number from 1 up; got {args.limit}.")
    experiment = load_experiment(args.experiment)

    def told(usd: float | None, judgements: int) -> None:
        cost = "unknown (no price for the model)" if usd is None else f"at most ${usd:.4f}"
        print(f"forecast: {judgements:,} judgements (cached ones are free), {cost}; each reviewer's "
              "max_cost_usd bounds it", flush=True)

    async def go() -> PerturbResult:
        if experiment.author is None:
            return await perturb(experiment, Path(args.out), limit=args.limit, on_forecast=told)
        from harness.loop.author import AuthorSession

        session = AuthorSession(experiment.author)
        try:
            return await perturb(experiment, Path(args.out), limit=args.limit, paraphrase=session.ask,
                                 on_forecast=told)
        finally:
            await session.aclose()

    result = run_sync(go())
    print("\n".join(perturb_lines(result, Path(args.out))))
    return 0


def print_perturb_forecast(experiment: Experiment, limit: int | None) -> None:
    """`estimate --perturb`: what `perturb` would send; paraphrases are read from the cache only."""
    from harness._util.event_loop import run_sync
    from harness.pipeline.perturb import estimate_perturb, forecast_text

    async def go() -> str:
        if experiment.author is None:
            return forecast_text(await estimate_perturb(experiment, limit=limit))
        from harness.loop.author import AuthorSession

        session = AuthorSession(experiment.author, offline=True)
        try:
            return forecast_text(await estimate_perturb(experiment, limit=limit, paraphrase=session.ask))
        finally:
            await session.aclose()

    print(run_sync(go()))


def perturb_lines(result: PerturbResult, out: Path) -> list[str]:
    """What `perturb` prints: per reviewer, the spread of each rate, the flip share and the most moving section."""
    def pct(value: float | None) -> str:
        return "no data" if value is None else f"{value:.1%}"

    lines = [f"{result.experiment}: {result.items} items, {len(result.variants)} variants of {result.policy}"]
    lines += [f"  not judged: {r.name} ({r.reason})" for r in result.refused]
    for name, r in result.reviewers.items():
        lines.append(f"  {name}: over-enforcement {pct(r.over_enforcement_spread.min)}-{pct(r.over_enforcement_spread.max)} "
                     f"(original {pct(r.original_over_enforcement.rate)}), leakage {pct(r.leakage_spread.min)}-"
                     f"{pct(r.leakage_spread.max)} (original {pct(r.original_leakage.rate)}); "
                     f"{r.flip_share.k} of {r.flip_share.n} items ({pct(r.flip_share.rate)}, 95% "
                     f"[{pct(r.flip_share.ci_low)}, {pct(r.flip_share.ci_high)}]) flip under at least one variant")
        for v in r.variants:
            lines.append(f"    {v.variant:<32} over-enforcement {pct(v.over_enforcement.rate)}  leakage "
                         f"{pct(v.leakage.rate)}  flips {v.flipped}  McNemar p {v.accuracy_mcnemar_p:.3g} "
                         f"(Holm {v.p_holm:.3g})" if v.p_holm is not None else f"    {v.variant}: flips {v.flipped}")
        if r.sections and (r.sections[0].flipped or r.sections[0].max_abs_change):
            top = r.sections[0]
            lines.append(f"    most sensitive: {top.section} ({top.flipped} items flipped, rates moved up to "
                         f"{top.max_abs_change:.1%})")
    if result.incomplete:
        lines.append(f"  INCOMPLETE: {result.incomplete_reason}")
    lines.append(f"  outputs: {out / 'perturb.json'}")
    return lines

"""`estimate`: the LLM calls, tokens and most they can cost for each reviewer on each policy
version of a run, before anything is sent. Cached judgements cost nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import Experiment
from harness.reviewers import CostEstimate, Estimating, build_reviewer, has_capability


@dataclass(frozen=True)
class CallEstimate:
    """One reviewer that calls a model, on one policy version."""

    reviewer: str
    policy: str  # the version's label
    cost: CostEstimate

    @property
    def cost_text(self) -> str:
        c = self.cost
        if c.max_cost_usd is None:
            return "unknown (no price for this model)"
        text = f"at most ${c.max_cost_usd:.4f}"
        if c.max_cost_usd and c.max_cost_usd_batch is not None:  # a local model has no batch API
            text += f" online, ${c.max_cost_usd_batch:.4f} batch"
        return text


@dataclass(frozen=True)
class NoCalls:
    """A reviewer that calls no model (a classifier)."""

    reviewer: str


@dataclass(frozen=True)
class RunEstimate:
    experiment: str
    items: int  # after the sample `limit` draws
    lines: list[CallEstimate | NoCalls]  # in the experiment's reviewer order, candidate before baseline


def estimate_run(experiment: Experiment, limit: int | None = None) -> RunEstimate:
    """What `run` would send for `experiment` (a seeded sample of `limit` items, else the
    experiment's own `limit:`), counted against the judgement cache; nothing is sent."""
    from harness.pipeline.run import load_inputs

    candidate, baseline, evalset = load_inputs(experiment)
    if sample := limit or experiment.limit:
        evalset = evalset.sample(sample, experiment.seed)
    lines: list[CallEstimate | NoCalls] = []
    for config in experiment.reviewers:
        if not has_capability(config, Estimating):
            lines.append(NoCalls(config.name))
            continue
        reviewer = build_reviewer(config, base_dir=Path(experiment.base_dir))
        try:
            assert isinstance(reviewer, Estimating)  # what has_capability said of its class
            for policy in filter(None, (candidate, baseline)):
                lines.append(CallEstimate(config.name, policy.label, reviewer.estimate(evalset.items, policy)))
        finally:
            reviewer.close()
    return RunEstimate(experiment=experiment.name, items=len(evalset), lines=lines)


def estimate_text(estimate: RunEstimate) -> str:
    """The estimate as printed: a header, then one line per reviewer and policy version."""
    lines = [f"{estimate.experiment}: {estimate.items} items"]
    for line in estimate.lines:
        if isinstance(line, NoCalls):
            lines.append(f"  {line.reviewer:<16} classifier: no model calls")
            continue
        c = line.cost
        lines.append(f"  {line.reviewer:<16} {line.policy:<18} {c.to_send} calls to send ({c.cached} cached), "
                     f"{c.prompt_tokens:,} prompt tokens, up to {c.max_completion_tokens:,} completion tokens, "
                     f"{line.cost_text}")
    return "\n".join(lines)

"""`estimate`: the LLM calls, tokens and most they can cost for each reviewer on each policy
version of a run, before anything is sent. Cached judgements cost nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import Experiment, LLMReviewerConfig


@dataclass(frozen=True)
class CallEstimate:
    """One LLM reviewer on one policy version."""

    reviewer: str
    policy: str  # the version's label
    to_send: int
    cached: int
    prompt_tokens: int
    max_completion_tokens: int
    max_cost_usd: float | None  # None: no price known for the model
    max_cost_usd_batch: float | None  # the same requests through the provider's batch API

    @property
    def cost_text(self) -> str:
        if self.max_cost_usd is None:
            return "unknown (no price for this model)"
        text = f"at most ${self.max_cost_usd:.4f}"
        if self.max_cost_usd and self.max_cost_usd_batch is not None:  # a local model has no batch API
            text += f" online, ${self.max_cost_usd_batch:.4f} batch"
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
    from harness.reviewers.llm import LLMReviewer

    candidate, baseline, evalset = load_inputs(experiment)
    if sample := limit or experiment.limit:
        evalset = evalset.sample(sample, experiment.seed)
    lines: list[CallEstimate | NoCalls] = []
    for config in experiment.reviewers:
        if not isinstance(config, LLMReviewerConfig):
            lines.append(NoCalls(config.name))
            continue
        reviewer = LLMReviewer(config, base_dir=Path(experiment.base_dir))
        for policy in filter(None, (candidate, baseline)):
            e = reviewer.estimate(evalset.items, policy)
            lines.append(CallEstimate(reviewer=config.name, policy=policy.label, to_send=int(e["to_send"]),
                                      cached=int(e["cached"]), prompt_tokens=int(e["prompt_tokens"]),
                                      max_completion_tokens=int(e["max_completion_tokens"]),
                                      max_cost_usd=_money(e["max_cost_usd"]),
                                      max_cost_usd_batch=_money(e["max_cost_usd_batch"])))
    return RunEstimate(experiment=experiment.name, items=len(evalset), lines=lines)


def estimate_text(estimate: RunEstimate) -> str:
    """The estimate as printed: a header, then one line per reviewer and policy version."""
    lines = [f"{estimate.experiment}: {estimate.items} items"]
    for line in estimate.lines:
        if isinstance(line, NoCalls):
            lines.append(f"  {line.reviewer:<16} classifier: no model calls")
            continue
        lines.append(f"  {line.reviewer:<16} {line.policy:<18} {line.to_send} calls to send ({line.cached} cached), "
                     f"{line.prompt_tokens:,} prompt tokens, up to {line.max_completion_tokens:,} completion tokens, "
                     f"{line.cost_text}")
    return "\n".join(lines)


def _money(value: float | None) -> float | None:
    return None if value is None else float(value)

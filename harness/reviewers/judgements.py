"""What the online and batch paths of the LLM reviewer share: the judgement job, its cache entry,
the group-commit cache writer and the usage meter."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.providers.client import Completion
from harness.record.metrics import Usage
from harness.reviewers.cache import JudgementCache
from harness.reviewers.scores import chat_logprobs, violation_probability
from harness.verdicts import Verdict

CacheEntry = dict[str, Any]  # the cached answer: its JSON shape is the cache's, read back by `parse_answer`


class Job(NamedTuple):
    """One judgement to make: an item's text under one policy, for one sample, and its cache key."""

    item_id: str
    text: str
    sample: int
    key: str


@dataclass
class UsageMeter:
    """A reviewer's calls, tokens and spend as they happen; `usage()` is the record's `Usage`."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown_calls: int = 0
    retries: int = 0
    abstained: int = 0
    reasoning_tokens: int = 0
    reasoning_cost_usd: float = 0.0
    batches: int = 0

    def count(self, completion: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.reasoning_tokens += completion.reasoning_tokens
        if completion.cost_usd is None:
            self.cost_unknown_calls += 1
        else:
            self.cost_usd += completion.cost_usd
            self.reasoning_cost_usd += completion.reasoning_cost_usd or 0.0

    def cost_text(self) -> str:
        return "unknown" if self.cost_unknown_calls else f"${self.cost_usd:.4f}"

    def usage(self) -> Usage:
        unknown = bool(self.cost_unknown_calls and not self.cost_usd)  # unknown, not free
        return Usage(calls=self.calls, cached=self.cached, prompt_tokens=self.prompt_tokens,
                     completion_tokens=self.completion_tokens, cost_usd=None if unknown else self.cost_usd,
                     cost_unknown_calls=self.cost_unknown_calls, retries=self.retries, abstained=self.abstained,
                     reasoning_tokens=self.reasoning_tokens,
                     reasoning_cost_usd=None if unknown else self.reasoning_cost_usd, batches=self.batches)


def budget_message(name: str, limit: float, todo: list[Job], answers: dict[str, CacheEntry]) -> str:
    """Why a reviewer stopped: its budget, and how many judgements were not made."""
    missing = len([job for job in todo if job.key not in answers])
    return f"reviewer '{name}' reached its budget of ${limit:.2f}; {missing} judgements were not made"


def answer_entry(completion: Completion, *, prefix: str = "", latency_ms: float | None = None) -> CacheEntry:
    """A good answer as the judgement cache stores it (online and batch alike); with log-probabilities,
    its P(violation) at the decision token as `p_violation` (`prefix`: text the answer was forced to
    start with); `latency_ms`, the call's wall time, where the call was timed (not in a provider batch)."""
    entry: CacheEntry = {"content": completion.content, "prompt_tokens": completion.prompt_tokens,
                             "completion_tokens": completion.completion_tokens, "cost_usd": completion.cost_usd}
    if latency_ms is not None:
        entry["latency_ms"] = round(latency_ms, 1)
    if completion.reasoning is not None:
        entry["reasoning"] = completion.reasoning
    if completion.reasoning_tokens:
        entry["reasoning_tokens"] = completion.reasoning_tokens
    if completion.finish_reason not in (None, "stop"):
        entry["finish_reason"] = completion.finish_reason
    if completion.logprobs is not None:
        entry["logprobs"] = True  # the provider sent them (a warning names a provider that does not)
        p = violation_probability(chat_logprobs(completion.logprobs), prefix=prefix)
        if p is not None:
            entry["p_violation"] = p
    return entry


def answer_usage(verdict: Verdict, answer: CacheEntry) -> None:
    """The verdict carries the usage and latency of the call that paid for its answer (also when the answer
    came from the cache); what an answer cached before they were kept does not say stays unknown."""
    verdict.prompt_tokens = _count(answer.get("prompt_tokens"))
    verdict.completion_tokens = _count(answer.get("completion_tokens"))
    latency = answer.get("latency_ms")
    verdict.latency_ms = float(latency) if isinstance(latency, (int, float)) and latency >= 0 else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class CacheWriter:
    """Group commit: answers that arrive in the same event-loop turn share one transaction.

    An answer is written no later than the next turn of the event loop after it arrives, before
    the reviewer waits on the network again; no timer delays it. A kill -9 can lose only answers
    parsed in the turn it lands in (under a millisecond of work), as it could lose an answer
    whose bytes had arrived but were not yet parsed."""

    def __init__(self, cache: JudgementCache) -> None:
        self.cache = cache
        self.pending: list[tuple[str, CacheEntry]] = []
        self.failed: Exception | None = None

    def put(self, key: str, value: CacheEntry) -> None:
        if self.failed is not None:
            raise self.failed
        if not self.pending:
            asyncio.get_running_loop().call_soon(self._flush_soon)
        self.pending.append((key, value))

    def flush(self) -> None:
        if self.failed is not None:
            raise self.failed
        batch, self.pending = self.pending, []
        if batch:
            self.cache.put_many(batch)

    def _flush_soon(self) -> None:
        try:
            self.flush()
        except Exception as err:  # in a loop callback it would only be logged: the next put or flush raises it
            self.failed = err


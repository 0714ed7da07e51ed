"""LLM reviewer: the model reads the policy and judges each item, concurrently and cached."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from harness._util.hashing import sha256_json, sha256_text
from harness._util.progress import Progress
from harness.config import LLMReviewerConfig, ReviewerConfig
from harness.errors import BudgetExceeded, HarnessError
from harness.evalset import TEXT, stratified_sample
from harness.policy import Policy
from harness.providers.local_model import FORCED_PREFIX, LocalModelServer, chat_prompt, is_local
from harness.record import LLMParams
from harness.record.metrics import Usage
from harness.reviewers.base import CostEstimate
from harness.reviewers.budget import Budget, check_budget
from harness.reviewers.cache import JudgementCache
from harness.reviewers.judgements import (
    CacheEntry,
    CacheWriter,
    Job,
    UsageMeter,
    answer_entry,
    answer_usage,
    budget_message,
)
from harness.reviewers.llm_verdict import parse_verdict, verdict_schema
from harness.reviewers.prompts import DEFAULT_LAYOUT, PromptBuilder, reviewer_template
from harness.reviewers.scores import TOP_LOGPROBS, confidence_probability
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, AbstainKind, Verdict

LOCAL_API_KEY = "sk-local-no-key"
log = logging.getLogger(__name__)


class LLMReviewer:
    """Reads the policy and each item in one prompt; `Estimating` (its cost is forecast before
    anything is sent) and `Injectable` (the item's text sits in its prompt)."""

    reads_policy = True

    def __init__(self, config: LLMReviewerConfig, *, base_dir: Path = Path("."),
                 cache: JudgementCache | None = None) -> None:
        self.config = config
        self.name = config.name
        self.template = reviewer_template(config.prompt, base_dir)
        self._cache = cache
        self._server: LocalModelServer | None = None
        self._client: Any = None
        self.meter = UsageMeter()
        # False: every judgement goes to the model (answers are still cached); drift canaries need it.
        self.read_cache = True
        self._warned_no_logprobs = False
        # The embedded model decides from its first answer token: one forward pass per item, not an answer.
        self.first_token = is_local(config.model) and config.score_mode == "logprobs"
        if config.api_key_env and not is_local(config.model) and not os.environ.get(config.api_key_env):
            raise HarnessError(f"reviewer '{config.name}' reads its API key from the environment variable "
                               f"{config.api_key_env}, which is not set; export it before running.")
        check_budget(config)

    @classmethod
    def check_config(cls, config: ReviewerConfig, base_dir: Path) -> None:
        """The prompt template loads and a `max_cost_usd` can be enforced (the model has a price)."""
        if not isinstance(config, LLMReviewerConfig):
            raise TypeError(f"{cls.__name__} takes an LLMReviewerConfig, not {type(config).__name__}")
        reviewer_template(config.prompt, base_dir)
        check_budget(config)

    @property
    def cache(self) -> JudgementCache:
        if self._cache is None:
            self._cache = JudgementCache(self.config.cache_file)  # None: the user's own cache
        return self._cache

    def params(self) -> LLMParams:
        c = self.config
        return LLMParams(
            model=c.model, temperature=c.temperature, max_tokens=c.max_tokens, samples=c.samples,
            prompt=self.template.label, prompt_sha256=self.template.sha256, response_format=c.response_format,
            concurrency=c.concurrency, timeout_s=c.timeout_s, max_retries=c.max_retries,
            api_base=c.api_base if c.api_base and not is_local(c.model) else None, seed=c.seed,
            # how the judgements were sent; not part of their cache key
            batch=True if c.batch else None, batch_provider=c.batch_provider if c.batch else None,
            batch_discount=c.batch_discount if c.batch else None, reasoning_effort=c.reasoning_effort,
            params=c.params or None,
            prompt_layout=self.template.layout if self.template.layout != DEFAULT_LAYOUT else None,
            limit=c.limit, reads_policy=self.reads_policy, scores=c.scores, threshold=c.threshold,
            decide="first_token" if self.first_token else None)

    def prompt_label(self) -> str:
        """The template the item's text is put into (`Injectable`)."""
        return self.template.label

    def usage(self) -> Usage:
        return self.meter.usage()

    def identity(self) -> dict[str, object]:
        """What makes two judgements interchangeable (the cache key, minus item and policy)."""
        c = self.config
        model = c.model if is_local(c.model) else f"{c.model}@{c.api_base or ''}"
        out: dict[str, object] = {"model": model, "temperature": c.temperature, "max_tokens": c.max_tokens,
                                  "seed": c.seed, "response_format": c.response_format,
                                  "template": self.template.sha256}
        return {**out, **self._optional_settings(layout_key="layout")}

    def _optional_settings(self, *, layout_key: str) -> dict[str, object]:
        """Settings that count only when set, so judgements cached before they existed keep their keys
        (`layout_key`: the cache key has always said 'layout', the run's parameters 'prompt_layout')."""
        c = self.config
        out: dict[str, object] = {}
        if c.reasoning_effort is not None:
            out["reasoning_effort"] = c.reasoning_effort
        if c.params:
            out["params"] = c.params
        if self.template.layout != DEFAULT_LAYOUT:
            out[layout_key] = self.template.layout
        if c.scores is not None:  # the default asks for log-probabilities without a new cache key
            out["scores"] = c.scores
        if self.first_token:
            out["decide"] = "first_token"
        return out

    def plan(self, items: pd.DataFrame, policy: Policy) -> tuple[PromptBuilder, list[Job]]:
        """The judgements this reviewer needs for these items: (item id, text, sample, cache key)."""
        if self.config.limit and len(items) > self.config.limit:
            # The same seeded sample for every policy version, so comparisons stay paired.
            items = stratified_sample(items, self.config.limit, seed=self.config.seed or 0)
        builder = PromptBuilder(self.template, policy)
        base_key = sha256_json({**self.identity(), "policy": policy.sha256})
        jobs = [Job(str(item_id), text, sample, sha256_text(f"{base_key}|{sha256_text(text)}|{sample}"))
                for item_id, text in zip(items["item_id"], items[TEXT].astype(str), strict=True)
                for sample in range(self.config.samples)]
        return builder, jobs

    def estimate(self, items: pd.DataFrame, policy: Policy) -> CostEstimate:
        """Forecast of tokens and cost before anything is sent; cached judgements cost nothing."""
        from harness.providers.client import count_tokens, estimate_cost

        builder, jobs = self.plan(items, policy)
        cached = self.cache.get_many([job.key for job in jobs])
        todo = [job for job in jobs if job.key not in cached]
        model = self.config.model if not is_local(self.config.model) else "openai/" + self.config.model[6:]
        prompt_tokens = sum(count_tokens(model, builder.messages(text)) for _, text, _, _ in todo)
        completion_tokens = len(todo) * (1 if self.first_token else self.config.max_tokens)
        cost = 0.0 if is_local(self.config.model) else estimate_cost(model, prompt_tokens, completion_tokens,
                                                                     self.config.price)
        return CostEstimate(judgements=len(jobs), cached=len(jobs) - len(todo), to_send=len(todo),
                            prompt_tokens=prompt_tokens, max_completion_tokens=completion_tokens, max_cost_usd=cost,
                            # what the same requests cost through the provider's batch API (`batch_discount`)
                            max_cost_usd_batch=None if cost is None else cost * self.config.batch_discount)

    async def review(self, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
        """Cached judgements first, then the model for the rest; a spent budget raises
        `BudgetExceeded` carrying the verdicts judged before it ran out."""
        builder, jobs = self.plan(items, policy)
        schema = verdict_schema(policy)
        answers = self.cache.get_many([job.key for job in jobs]) if self.read_cache else {}
        self.meter.cached += len(answers)
        todo = [job for job in jobs if job.key not in answers]
        stop: BudgetExceeded | None = None
        if todo:
            try:
                await self._judge(todo, builder, schema, answers)
            except BudgetExceeded as err:
                stop = err
        verdicts = []
        for item_id, _, sample, key in jobs:
            answer = answers.get(key)
            if answer is None:
                continue  # not judged: the budget ran out before this item
            verdict = (Verdict.abstain(item_id, AbstainKind.PROVIDER_ERROR, answer["error"], sample) if answer.get("error")
                       else self._first_token_verdict(answer, policy, item_id, sample) if self.first_token
                       else parse_verdict(answer.get("content"), policy, item_id, sample,
                                          reasoning=answer.get("reasoning"), finish_reason=answer.get("finish_reason"),
                                          max_tokens=self.config.max_tokens))
            self._score(verdict, answer, policy)
            answer_usage(verdict, answer)
            self.meter.abstained += verdict.decision == ABSTAINED
            verdicts.append(verdict)
        if stop is not None:
            stop.verdicts = verdicts
            raise stop
        return verdicts

    def _first_token_verdict(self, answer: CacheEntry, policy: Policy, item_id: str, sample: int) -> Verdict:
        """The verdict of a first-token answer: P(violation) at that token decides (at the `threshold`,
        else 0.5); no rationale is generated."""
        p = answer.get("p_violation")
        if p is None:
            return Verdict.abstain(item_id, AbstainKind.NO_VERDICT, "no true/false among the first answer token's "
                                   f"alternatives: {answer.get('content')!r}", sample)
        actioned = float(p) >= (self.config.threshold if self.config.threshold is not None else 0.5)
        return Verdict(item_id=item_id, decision=ACTIONED if actioned else ALLOWED,
                       categories=policy.category_ids if actioned and len(policy.categories) == 1 else [],
                       score=float(p), notes="decided by the first answer token (no rationale generated)",
                       sample=sample)

    def _score(self, verdict: Verdict, answer: CacheEntry, policy: Policy) -> None:
        """The verdict's score (P(violation)) and its source per `scores`; with a `threshold`, the
        decision is `score >= threshold`. A provider that sent no log-probabilities falls back to the
        stated confidence, with one warning per run."""
        mode = self.config.score_mode
        verdict.score, verdict.score_source = None, ""
        if mode == "none" or verdict.decision == ABSTAINED:
            return
        p = answer.get("p_violation") if mode == "logprobs" else None
        if p is not None:
            verdict.score, verdict.score_source = float(p), "logprobs"
        else:
            if mode == "logprobs" and not answer.get("logprobs") and not self._warned_no_logprobs:
                self._warned_no_logprobs = True
                log.warning("reviewer '%s': the provider returned no token log-probabilities; scoring by the "
                            "model's stated confidence instead (set 'scores: confidence' to silence this)", self.name)
            stated = confidence_probability(verdict.decision == ACTIONED, verdict.confidence)
            if stated is not None:
                verdict.score, verdict.score_source = stated, "confidence"
        threshold = self.config.threshold
        if threshold is None or verdict.score is None:
            return
        actioned = verdict.score >= threshold
        if actioned and verdict.decision != ACTIONED:
            verdict.categories = verdict.categories or (policy.category_ids if len(policy.categories) == 1 else [])
        elif not actioned:
            verdict.categories = []
        verdict.decision = ACTIONED if actioned else ALLOWED

    async def _judge(self, todo: list[Job], builder: PromptBuilder,
                     schema: dict[str, Any], answers: dict[str, CacheEntry]) -> None:
        client = await asyncio.to_thread(self._ensure_client)  # may start the local model server: seconds
        limit = self.config.max_cost_usd
        budget: Budget | None = None
        if limit is not None and not is_local(self.config.model):  # counting tokens may import litellm: seconds
            budget = await asyncio.to_thread(Budget, limit, spent=self.meter.cost_usd, config=self.config,
                                             builder=builder)
        if self.config.batch:
            from harness.reviewers.batch import BatchRun

            try:
                await BatchRun(self.config, self.name, self.cache, self.meter, client, builder, schema, answers,
                               budget).run(todo)
            finally:
                await client.aclose()
            return
        writer = CacheWriter(self.cache)
        progress = Progress(self.name, len(todo), status=self._status)
        jobs = iter(todo)

        async def worker() -> None:
            # `concurrency` workers pull from one queue: no task or semaphore wait per item.
            for _, text, _, key in jobs:
                worst = budget.worst_case(text) if budget is not None else 0.0
                if budget is not None and not await budget.reserve(worst):
                    return
                try:
                    messages = builder.messages(text)
                    started = time.perf_counter()
                    completion = await client.complete(messages, schema, prompt=chat_prompt(messages)
                                                       if self.first_token else None)
                    latency_ms = (time.perf_counter() - started) * 1000
                except BaseException:
                    if budget is not None:
                        budget.settle(worst, None)  # it may have been paid for
                    raise
                if budget is not None:
                    budget.settle(worst, 0.0 if completion.error else completion.cost_usd)
                if completion.error:
                    answers[key] = {"error": completion.error}  # not cached: a re-run tries again
                else:
                    entry = answer_entry(completion, prefix=FORCED_PREFIX if self.first_token else "",
                                         latency_ms=latency_ms)
                    writer.put(key, entry)
                    answers[key] = entry
                    self.meter.count(completion)
                self.meter.retries = client.retries
                progress.update(1)

        finished = False
        try:
            tasks = [asyncio.create_task(worker()) for _ in range(min(self.config.concurrency, len(todo)))]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            finished = True
        finally:
            try:
                writer.flush()  # what arrived in this last turn; raises a write failure (disk full)
            finally:
                progress.close(summary=finished)
                await client.aclose()
        if budget is not None and budget.exhausted:
            raise BudgetExceeded(budget_message(self.name, budget.limit, todo, answers))

    def _status(self) -> str:
        """Beside the progress: the tokens and the cost so far."""
        return f"{self.meter.prompt_tokens + self.meter.completion_tokens:,} tokens, cost {self.meter.cost_text()}"

    def _ensure_client(self) -> Any:
        if self._client is not None:
            return self._client
        from harness.providers.client import Endpoint, LLMClient

        c = self.config
        fmt = c.response_format
        if is_local(c.model):
            self._server = LocalModelServer(c.model).start()
            endpoint = Endpoint(model=f"openai/{c.model.removeprefix('local/')}", api_base=self._server.api_base,
                                api_key=LOCAL_API_KEY, response_format="json_object" if fmt == "auto" else fmt,
                                free=True)
        else:
            # An OpenAI-compatible server without auth still needs some key in the request.
            key = os.environ.get(c.api_key_env) if c.api_key_env else (LOCAL_API_KEY if c.api_base else None)
            endpoint = Endpoint(model=c.model, api_base=c.api_base, api_key=key, api_key_env=c.api_key_env,
                                response_format="json_schema" if fmt == "auto" else fmt, price=c.price)
        self._client = LLMClient(endpoint, timeout_s=c.timeout_s, max_retries=c.max_retries,
                                 temperature=c.temperature, max_tokens=1 if self.first_token else c.max_tokens,
                                 seed=c.seed,
                                 concurrency=c.concurrency, reasoning_effort=c.reasoning_effort, params=c.params,
                                 top_logprobs=TOP_LOGPROBS if c.score_mode == "logprobs" else None)
        return self._client

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._client = None

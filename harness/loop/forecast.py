"""`estimate` for a revise run: reviewer calls on both parts, author calls, judged candidates,
with tokens and the most they can cost, before anything is sent.

The current policy's judgements are counted exactly (cached ones cost nothing). When all of them
are cached, revise is replayed from the cache up to the author's answers (the dev errors, the
description prompts, the revision prompt, cached answers checked like revise checks them), so
those lines are exact too. Otherwise what follows depends on answers not yet given, and those
lines are upper bounds: every author call and candidate judgement is counted as sent, each
candidate as long as `max_policy_tokens` allows, and every author prompt as long as the largest
clusters and the longest dev texts can make it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import BaseModel

from harness._util.event_loop import run_sync
from harness.config import AuthorConfig, Experiment
from harness.errors import HarnessError
from harness.loop.author import CLUSTERS_SHOWN, MAX_EXEMPLARS_PER_KIND, AuthorSession, revision_messages
from harness.loop.candidate import check_candidate, policy_document
from harness.loop.describe import MAX_DESCRIPTION_TOKENS, SYSTEM, describe_kinds, described
from harness.loop.revise import ReviseParts, dev_diagnoses, judge_current, revise_parts
from harness.metrics.diagnosis import EXEMPLARS, item_texts
from harness.policy import Policy
from harness.reviewers import CostEstimate

GROUPINGS = 3  # by rule, by slice, by text
KINDS = 2  # over-enforcement, leakage
CLUSTER_LINE_TOKENS = 60  # a cluster line with its top terms, an over-represented line, a description
ITEM_FRAME_TOKENS = 15  # "Example (...), item ID:" and the delimiters around one item


class CallLine(BaseModel):
    what: str  # "current policy on dev", "candidates on held-out", "author: revisions", ...
    model: str
    calls: int
    cached: int
    to_send: int
    prompt_tokens: int
    max_completion_tokens: int
    max_cost_usd: float | None  # None: no price known for the model
    upper_bound: bool  # counted before the answers it depends on exist


class ReviseForecast(BaseModel):
    experiment: str
    policy: str
    dev_items: int
    holdout_items: int
    candidates: int
    lines: list[CallLine]

    @property
    def max_cost_usd(self) -> float | None:
        costs = [line.max_cost_usd for line in self.lines]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)


@dataclass
class _Known:
    """What the cache already holds of a re-run: found when the current policy's judgements are all
    cached, so the dev errors, the description prompts and the revision prompt can be rebuilt."""

    descriptions: int  # description calls a re-run makes
    uncached: list[tuple[list[dict[str, str]], int]]  # (messages, max_tokens) of the calls not cached
    revision: list[dict[str, str]] | None  # None: a description is not cached, so the prompt is not known
    answers: list[str | None]  # per sample index: the cached answer, or None


def forecast_revise(experiment: Experiment) -> ReviseForecast:
    from harness.reviewers.llm import LLMReviewer

    author = experiment.author
    if author is None:
        raise HarnessError("has no 'author' section; add one (model, candidates, holdout, target) to estimate a "
                           "revise run.", path=experiment.source)
    parts = revise_parts(experiment, author)
    lines: list[CallLine] = []
    try:
        for reviewer in parts.reviewers:
            assert isinstance(reviewer, LLMReviewer)  # the only reviewer that reads the policy
            for what, frame in (("current policy on dev", parts.dev_items),
                                ("current policy on held-out", parts.held_items)):
                lines.append(_reviewer_line(f"{reviewer.name}: {what}", reviewer.config.model,
                                            reviewer.estimate(frame, parts.current), False))
        # Replayed only when judging the current policy, exactly as revise asks for it, sends nothing.
        replayable = all(isinstance(r, LLMReviewer) and r.estimate(parts.items, parts.current).to_send == 0
                         for r in parts.reviewers)
        known = run_sync(_known(parts, author)) if replayable else None
        candidates = _candidates(parts.current, author, known)
        for reviewer in parts.reviewers:
            assert isinstance(reviewer, LLMReviewer)
            judged = [(policy, exact) for policy, exact in candidates if policy is not None]
            total = sum((reviewer.estimate(parts.held_items, policy) for policy, _ in judged), NOTHING)
            lines.append(_reviewer_line(f"{reviewer.name}: {len(judged)} candidates on held-out", reviewer.config.model,
                                        total, not all(exact for _, exact in judged)))
    finally:
        for reviewer in parts.reviewers:
            reviewer.close()
    lines += _author_lines(author, parts, known)
    return ReviseForecast(experiment=experiment.name, policy=parts.current.label, dev_items=len(parts.dev_items),
                          holdout_items=len(parts.held_items), candidates=author.candidates, lines=lines)


async def _known(parts: ReviseParts, author: AuthorConfig) -> _Known:
    """Replays revise up to the author's answers from the cache alone (nothing is sent)."""
    base = await judge_current(parts)
    diagnoses = dev_diagnoses(base, parts.evalset.slices)
    texts = item_texts(parts.items)
    session = AuthorSession(author, offline=True)
    count = 0
    if author.describe_clusters:
        for kinds in diagnoses.values():
            count += len(described(kinds, author.describe_clusters))
            await describe_kinds(kinds, parts.current.label, texts, session, author.describe_clusters)
    if session.uncached:
        return _Known(descriptions=count, uncached=session.uncached, revision=None, answers=[None] * author.candidates)
    revision = revision_messages(parts.current, diagnoses, texts, author.target)
    answers = [(await session.ask(revision, sample))[0] for sample in range(author.candidates)]
    return _Known(descriptions=count, uncached=session.uncached, revision=revision, answers=answers)


def _candidates(current: Policy, author: AuthorConfig, known: _Known | None) -> list[tuple[Policy | None, bool]]:
    """Per candidate, the policy its held-out judgements use and whether it is the real one: a cached
    answer is checked like revise checks it (an invalid one is never judged: None); an unknown one
    is the longest stand-in."""
    out: list[tuple[Policy | None, bool]] = []
    for index in range(author.candidates):
        answer = known.answers[index] if known else None
        if answer is None:
            out.append((_longest_candidate(current, author, index), False))
            continue
        check = check_candidate(policy_document(answer), current, max_policy_tokens=author.max_policy_tokens)
        out.append((check.policy, True))
    return out


def _reviewer_line(what: str, model: str, e: CostEstimate, upper_bound: bool) -> CallLine:
    """A line from `LLMReviewer.estimate`."""
    return CallLine(what=what, model=model, calls=e.judgements, cached=e.cached, to_send=e.to_send,
                    prompt_tokens=e.prompt_tokens, max_completion_tokens=e.max_completion_tokens,
                    max_cost_usd=e.max_cost_usd, upper_bound=upper_bound)


NOTHING = CostEstimate(judgements=0, cached=0, to_send=0, prompt_tokens=0, max_completion_tokens=0,
                       max_cost_usd=0.0, max_cost_usd_batch=0.0)


def _longest_candidate(current: Policy, author: AuthorConfig, index: int) -> Policy:
    """A stand-in for candidate `index`: the current body padded to `max_policy_tokens`, under a
    hash of its own so no cached judgement of the current policy counts for it."""
    from harness.policy.lint import count_tokens

    tokens, _ = count_tokens(current.body)
    padding = " policy" * max(0, author.max_policy_tokens - tokens)
    return replace(current, body=current.body + padding, text=current.text + padding,
                   sha256=f"forecast-candidate-{index}")


def _author_lines(author: AuthorConfig, parts: ReviseParts, known: _Known | None) -> list[CallLine]:
    from harness.config.local import is_local
    from harness.providers.client import count_tokens, estimate_cost

    model = author.model if not is_local(author.model) else "openai/" + author.model.removeprefix("local/")

    def line(what: str, calls: int, to_send: int, prompt: int, completion: int, upper_bound: bool) -> CallLine:
        cost = 0.0 if is_local(author.model) else estimate_cost(model, prompt, completion, author.price)
        return CallLine(what=what, model=author.model, calls=calls, cached=calls - to_send, to_send=to_send,
                        prompt_tokens=prompt, max_completion_tokens=completion, max_cost_usd=cost,
                        upper_bound=upper_bound)

    lines: list[CallLine] = []
    if known is not None:  # every prompt that is not cached is known exactly
        asked = [(m, t) for m, t in known.uncached if m is not known.revision]
        if known.descriptions:
            lines.append(line(f"author: {known.descriptions} cluster descriptions", known.descriptions, len(asked),
                              sum(count_tokens(model, m) for m, _ in asked), sum(t for _, t in asked), False))
        if known.revision is not None:
            missing = sum(a is None for a in known.answers)
            lines.append(line(f"author: {author.candidates} revisions", author.candidates, missing,
                              missing * count_tokens(model, known.revision), missing * author.max_tokens, False))
            return lines
    texts = parts.dev_items["text"].fillna("").astype(str)
    longest = texts[texts.str.len().sort_values(ascending=False).index[:4 * MAX_EXEMPLARS_PER_KIND]]
    lengths = sorted((count_tokens(model, [{"role": "user", "content": t}]) for t in longest), reverse=True)
    reviewers = len(parts.reviewers)
    clusters = reviewers * KINDS * GROUPINGS * author.describe_clusters
    if clusters and known is None:
        one = (count_tokens(model, [{"role": "system", "content": SYSTEM}]) + 6 * CLUSTER_LINE_TOKENS
               + sum(lengths[:EXEMPLARS]) + EXEMPLARS * ITEM_FRAME_TOKENS)
        lines.append(line(f"author: cluster descriptions (at most {clusters})", clusters, clusters, clusters * one,
                          clusters * min(author.max_tokens, MAX_DESCRIPTION_TOKENS), True))
    frame = count_tokens(model, revision_messages(parts.current, {}, {}, author.target))
    per_kind = (GROUPINGS * CLUSTERS_SHOWN * CLUSTER_LINE_TOKENS + sum(lengths[:MAX_EXEMPLARS_PER_KIND])
                + MAX_EXEMPLARS_PER_KIND * ITEM_FRAME_TOKENS)
    k = author.candidates
    lines.append(line(f"author: {k} revisions", k, k, k * (frame + reviewers * KINDS * per_kind),
                      k * author.max_tokens, True))
    return lines


def forecast_text(forecast: ReviseForecast) -> str:
    lines = [f"{forecast.experiment}: revise {forecast.policy}, {forecast.dev_items} dev / {forecast.holdout_items} "
             f"held-out items, {forecast.candidates} candidates"]
    for line in forecast.lines:
        cost = ("unknown (no price for this model)" if line.max_cost_usd is None
                else f"at most ${line.max_cost_usd:.4f}")
        bound = " (upper bound)" if line.upper_bound else ""
        lines.append(f"  {line.what:<44} {line.to_send} calls to send ({line.cached} cached), "
                     f"{line.prompt_tokens:,} prompt tokens, up to {line.max_completion_tokens:,} completion tokens, "
                     f"{cost}{bound}")
    total = forecast.max_cost_usd
    lines.append(f"  total: {'unknown (a model has no price)' if total is None else f'at most ${total:.4f}'}")
    return "\n".join(lines)

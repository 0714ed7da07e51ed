"""`perturb`: the same items judged under meaning-preserving variants of the policy (docs/stability.md).

Variants come from harness/policy/variants.py (reordered rule sections, plain text, renamed ids, a
paraphrase of each section by the experiment's `author:` model). Every LLM reviewer judges the
items under the original and each variant through its normal cached path (a variant has its own
hash, so its judgements cache apart and a second `perturb` sends nothing); its `max_cost_usd`
bounds the whole command. Cited ids of the renamed variant are mapped back to the original's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.config import Experiment
from harness.errors import BudgetExceeded, HarnessError
from harness.evalset import EvalSet
from harness.metrics.perturbation import ORIGINAL, reviewer_perturbation
from harness.metrics.samples import majority
from harness.pipeline.finish import join_gold
from harness.pipeline.run import load_inputs
from harness.policy import Policy
from harness.policy.variants import (
    Variant,
    paraphrase_messages,
    paraphrased,
    plain_text,
    renamed_ids,
    reorderings,
    split_sections,
    with_body,
)
from harness.record.files import atomic_write_text, write_json
from harness.record.perturb import PERTURB_JSON, PerturbResult, RefusedVariant, ReviewerPerturbation, VariantInfo
from harness.reviewers import Estimating, Reviewer, build_reviewer
from harness.verdicts import Verdict, verdict_table, write_verdicts

# messages -> (answer, "") or (None, why there is none): the author model, given by the caller
# (the command line passes loop/author.py's session; pipeline does not import the loop).
Paraphraser = Callable[[list[dict[str, str]]], Awaitable[tuple[str | None, str]]]
WHOLE_POLICY = {"plain": "(formatting: plain text)", "renamed": "(rule ids renamed)"}
RULE_ORDER = "(order of the rule sections)"
NOT_CACHED = "not cached"  # what an offline author session answers for a call it has not made yet


async def build_variants(policy: Policy, paraphrase: Paraphraser | None) -> tuple[list[Variant], list[RefusedVariant]]:
    """Every variant of `policy`, and the ones that could not be made, with the reason."""
    variants, refused = [], []
    reordered, why = reorderings(policy)
    variants.extend(reordered)
    if why:
        refused.append(RefusedVariant(name="reorder", reason=why))
    variants.extend([plain_text(policy), renamed_ids(policy)])
    _, sections = split_sections(policy.body)
    if paraphrase is None:
        refused.append(RefusedVariant(name="paraphrase", reason="the experiment has no 'author:' model to paraphrase "
                                                                "with"))
        return variants, refused
    for index, section in enumerate(sections):
        name = f"paraphrase:{section.heading}"
        answer, why = await paraphrase(paraphrase_messages(policy, section))
        if answer is None:
            refused.append(RefusedVariant(name=name, reason=why))
            continue
        variant, why = paraphrased(policy, index, answer)
        if variant is None:
            refused.append(RefusedVariant(name=name, reason=why))
        else:
            variants.append(variant)
    return variants, refused


@dataclass(frozen=True)
class PerturbForecast:
    """What `perturb` would send (`estimate --perturb`): judgements of every variant, cached ones free.
    A paraphrase not yet in the cache is counted as a variant none of whose judgements are cached."""

    experiment: str
    items: int
    variants: int
    judgements: int
    to_send: int
    max_cost_usd: float | None  # None: no price is known for a model
    paraphrases_to_write: int  # author calls not in the cache (their cost is the author's `max_cost_usd` at most)


async def estimate_perturb(experiment: Experiment, *, limit: int | None = None,
                           paraphrase: Paraphraser | None = None) -> PerturbForecast:
    """The forecast of `perturb`, nothing sent: `paraphrase` should answer from the cache only."""
    candidate, _, evalset = load_inputs(experiment)
    if sample := limit or experiment.limit:
        evalset = evalset.sample(sample, experiment.seed)
    variants, refused = await build_variants(candidate, paraphrase)
    pending = [r for r in refused if r.name.startswith("paraphrase:") and r.reason == NOT_CACHED]
    # A stand-in for each paraphrase still to write: the policy with another hash, so nothing is cached.
    stand_ins = [with_body(candidate, f"{candidate.body}\n<!-- {r.name} -->\n") for r in pending]
    policies = [candidate, *(v.policy for v in variants), *stand_ins]
    reviewers = [build_reviewer(c, base_dir=Path(experiment.base_dir)) for c in experiment.reviewers if c.type == "llm"]
    judgements = to_send = 0
    total: float | None = 0.0
    try:
        for reviewer in reviewers:
            if not isinstance(reviewer, Estimating):
                continue
            for policy in policies:
                cost = reviewer.estimate(evalset.items, policy)
                judgements, to_send = judgements + cost.judgements, to_send + cost.to_send
                total = None if total is None or cost.max_cost_usd is None else total + cost.max_cost_usd
    finally:
        for reviewer in reviewers:
            reviewer.close()
    return PerturbForecast(experiment=experiment.name, items=len(evalset), variants=len(policies) - 1,
                           judgements=judgements, to_send=to_send, max_cost_usd=total,
                           paraphrases_to_write=len(pending))


def forecast_text(forecast: PerturbForecast) -> str:
    """The forecast as `estimate --perturb` prints it."""
    cost = "unknown (no price for a model)" if forecast.max_cost_usd is None else f"at most ${forecast.max_cost_usd:.4f}"
    text = (f"{forecast.experiment}: {forecast.items} items x (original + {forecast.variants} variants): "
            f"{forecast.to_send:,} of {forecast.judgements:,} judgements to send, {cost}")
    if forecast.paraphrases_to_write:
        text += (f"\n  {forecast.paraphrases_to_write} section paraphrases to write with the author model first "
                 "(bounded by its max_cost_usd); counted above as uncached variants")
    return text


def forecast_usd(reviewers: list[Reviewer], items: pd.DataFrame, policies: list[Policy]) -> float | None:
    """`estimate`'s most the judgements could cost (cached ones cost nothing); None when a price is unknown."""
    total: float | None = 0.0
    for reviewer in reviewers:
        if not isinstance(reviewer, Estimating):
            continue
        for policy in policies:
            cost = reviewer.estimate(items, policy).max_cost_usd
            total = None if total is None or cost is None else total + cost
    return total


async def perturb(experiment: Experiment, out_dir: Path, *, limit: int | None = None,
                  paraphrase: Paraphraser | None = None,
                  on_forecast: Callable[[float | None, int], None] | None = None) -> PerturbResult:
    """Judge the items under the original policy and every variant; write perturb.json, the variants'
    texts and their verdicts to `out_dir`. `on_forecast(usd, judgements)` is told the forecast first."""
    started = dt.datetime.now(dt.UTC)
    candidate, _, evalset = load_inputs(experiment)
    if sample := limit or experiment.limit:
        evalset = evalset.sample(sample, experiment.seed)
    variants, refused = await build_variants(candidate, paraphrase)
    configs = [c for c in experiment.reviewers if c.type == "llm"]
    if not configs:
        raise HarnessError("perturb needs an LLM reviewer (type: llm): a classifier does not read the policy text.",
                           path=experiment.source)
    reviewers = [build_reviewer(c, base_dir=Path(experiment.base_dir)) for c in configs]
    policies = [candidate, *(v.policy for v in variants)]
    forecast: float | None = None
    try:
        forecast = forecast_usd(reviewers, evalset.items, policies)
        if on_forecast is not None:
            on_forecast(forecast, len(evalset) * len(policies) * len(reviewers))
        tables, incomplete = await _judge_all(reviewers, candidate, variants, evalset)
    finally:
        for reviewer in reviewers:
            reviewer.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    infos = _write_variants(variants, out_dir)
    if tables:
        write_verdicts(pd.concat(tables, ignore_index=True), out_dir / "verdicts.parquet")
    result = PerturbResult(
        experiment=experiment.name, policy=candidate.label, created_at=started.isoformat(timespec="seconds"),
        items=len(evalset), variants=infos, refused=refused,
        reviewers=_measure(tables, evalset, variants, [r.name for r in reviewers]),
        forecast_usd=forecast, usage={r.name: u for r in reviewers if (u := r.usage()) is not None},
        incomplete=bool(incomplete), incomplete_reason=incomplete)
    write_json(out_dir / PERTURB_JSON, result.model_dump(mode="json"))
    return result


async def _judge_all(reviewers: list[Reviewer], original: Policy, variants: list[Variant],
                     evalset: EvalSet) -> tuple[list[pd.DataFrame], str]:
    tables: list[pd.DataFrame] = []
    for reviewer in reviewers:
        for name, policy, id_map in [(ORIGINAL, original, {}), *((v.name, v.policy, v.id_map) for v in variants)]:
            try:
                verdicts = await reviewer.review(evalset.items, policy)
            except BudgetExceeded as stop:
                return tables, f"{stop} (stopped at variant '{name}' of reviewer {reviewer.name})"
            tables.append(verdict_table([_mapped_back(v, id_map) for v in verdicts], policy=name, reviewer=reviewer.name))
    return tables, ""


def _mapped_back(verdict: Verdict, id_map: dict[str, str]) -> Verdict:
    if id_map:
        verdict.rule_ids = [id_map.get(i, i) for i in verdict.rule_ids]
    return verdict


def _measure(tables: list[pd.DataFrame], evalset: EvalSet, variants: list[Variant],
             reviewers: list[str]) -> dict[str, ReviewerPerturbation]:
    if not tables:
        return {}
    joined = majority(join_gold(pd.concat(tables, ignore_index=True), evalset))
    sections = {v.name: v.section or WHOLE_POLICY.get(v.kind, RULE_ORDER) for v in variants}
    out = {}
    for reviewer in reviewers:
        own = joined[joined["reviewer"] == reviewer]
        original = own[own["policy"] == ORIGINAL]
        judged = {v.name: own[own["policy"] == v.name] for v in variants}
        complete = {name: frame for name, frame in judged.items() if len(frame) == len(original)}
        if len(original):
            out[reviewer] = reviewer_perturbation(reviewer, original, complete, sections)
    return out


def _write_variants(variants: list[Variant], out_dir: Path) -> list[VariantInfo]:
    folder = out_dir / "variants"
    folder.mkdir(parents=True, exist_ok=True)
    infos = []
    for number, variant in enumerate(variants, start=1):
        file = f"variants/{number:02d}-{_slug(variant.name)}.md"
        atomic_write_text(out_dir / file, variant.policy.text)
        infos.append(VariantInfo(name=variant.name, kind=variant.kind, section=variant.section,
                                 sha256=variant.policy.sha256, file=file))
    return infos


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:60]

"""`explain`: rationales on demand for the verdicts a person opens in a run's report.

A reviewer that decides by its first answer token (docs/scores.md) writes no rationale. For the
items the report shows (error exemplars, failure-cluster members) or the ones named, the same
reviewer (model, policy text, prompt template, as the run recorded them) is asked for its whole
answer in generation mode, as `scores: none` asks. Each answer goes to the judgement cache under
its own key, so an item is never paid for twice, and to explanations.json the moment its group of
`concurrency` items returns, so an interrupted `explain` keeps what it was given."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from harness._util.event_loop import run_sync
from harness.config import LLMReviewerConfig
from harness.errors import BudgetExceeded, HarnessError, did_you_mean
from harness.evalset import TEXT
from harness.record import LLMParams, RunRecord, read_record, write_json
from harness.record.explanations import EXPLANATIONS_JSON, Explanation, Explanations
from harness.verdicts import ABSTAINED, AbstainKind

if TYPE_CHECKING:
    from harness.policy import Policy
    from harness.reviewers.llm import LLMReviewer

DEFAULT_MAX = 40
CLUSTERS_SHOWN = 2  # per grouping and error kind, as the report's failure-cluster table shows them
KIND_NAMES = {"over_enforcement": "over-enforcement", "leakage": "leakage"}


@dataclass
class Opened:
    """An item a person opens: which reviewer's verdict, and where the report shows it."""

    item_id: str
    reviewer: str
    why: list[str]


@dataclass
class ExplainResult:
    """What `explain_run` did: the explanations it wrote (new calls and cached ones), the items it
    could not explain and why, and the items left out by `max_items`."""

    path: Path
    explained: list[Explanation] = dataclasses.field(default_factory=list)
    failed: list[tuple[Opened, str]] = dataclasses.field(default_factory=list)
    left_out: int = 0
    calls: int = 0
    cached: int = 0
    report: Path | None = None


def explain_run(run_dir: Path, *, item_ids: list[str] | None = None, reviewer: str | None = None,
                policy: str | None = None, max_items: int = DEFAULT_MAX, experiment_path: str | None = None,
                on_start: Callable[[list[Opened]], None] = lambda _: None,
                on_explained: Callable[[Explanation], None] = lambda _: None) -> ExplainResult:
    """Generate rationales for the opened items of a stored run, write explanations.json beside its
    record and re-render its report; `on_start` sees the items chosen, `on_explained` each
    explanation as it is written."""
    if max_items < 1:
        raise HarnessError(f"--max must be a whole number of at least 1. Got {max_items} instead.")
    record = read_record(run_dir)
    label = _policy_label(record, policy)
    names = _llm_reviewers(record, reviewer)
    opened = (_asked(record, item_ids, names, label) if item_ids
              else _from_report(record, names, label, named=reviewer is not None))
    result = ExplainResult(path=run_dir / EXPLANATIONS_JSON, left_out=max(0, len(opened) - max_items))
    opened = opened[:max_items]
    on_start(opened)
    stored = record.explanations or Explanations(run=record.name, run_created_at=record.created_at)
    base_dir = Path(experiment_path).expanduser().absolute().parent if experiment_path else Path.cwd()

    def keep(new: list[Explanation]) -> None:
        nonlocal stored
        stored = stored.merged(new)
        write_json(result.path, stored)  # as they come: an interrupted explain keeps what it was given
        result.explained += new
        for explanation in new:
            on_explained(explanation)

    try:
        for name in dict.fromkeys(o.reviewer for o in opened):
            _explain_reviewer(record, name, label, [o for o in opened if o.reviewer == name], base_dir,
                              experiment_path, keep, result)
    finally:
        if result.explained:
            from harness.reporting import write_reports

            result.report = write_reports(dataclasses.replace(record, explanations=stored), run_dir)
    return result


def _policy_label(record: RunRecord, policy: str | None) -> str:
    if policy is None:
        return record.candidate
    if policy not in record.policies:
        raise HarnessError(f"the run has no policy version '{policy}'; choose one of {', '.join(record.policies)}."
                           + did_you_mean(policy, record.policies))
    return policy


def _llm_reviewers(record: RunRecord, reviewer: str | None) -> list[str]:
    """The LLM reviewers to explain: the one named, else every one of the run."""
    llm = [name for name, params in record.reviewers.items() if isinstance(params, LLMParams)]
    if reviewer is None:
        if not llm:
            raise HarnessError("the run has no LLM reviewer, so there is no rationale to generate; explain works on "
                               "runs with a reviewer of 'type: llm'.")
        return llm
    if reviewer not in record.reviewers:
        raise HarnessError(f"the run has no reviewer '{reviewer}'; choose one of {', '.join(record.reviewers)}."
                           + did_you_mean(reviewer, record.reviewers))
    if reviewer not in llm:
        raise HarnessError(f"reviewer '{reviewer}' is a {record.reviewers[reviewer].type}, not an LLM: it has no "
                           f"rationale to generate; name an LLM reviewer ({', '.join(llm) or 'the run has none'}).")
    return [reviewer]


def _rationale_less(record: RunRecord, name: str, label: str) -> bool:
    """A reviewer whose verdicts carry no rationale: it decided by its first answer token, or its
    answers under this policy gave none."""
    params = record.reviewers[name]
    if isinstance(params, LLMParams) and params.decide == "first_token":
        return True
    verdicts = record.verdicts
    mine = verdicts[(verdicts["reviewer"] == name) & (verdicts["policy"] == label)]
    return bool(mine.empty or (mine["rationale"].fillna("").astype(str).str.strip() == "").all())


def _from_report(record: RunRecord, names: list[str], label: str, *, named: bool) -> list[Opened]:
    """The items the report opens for the rationale-less reviewers among `names`: their error
    exemplars, then the members of the failure clusters it shows, in the report's order."""
    if label != record.candidate:
        raise HarnessError(f"the report's exemplars and failure clusters are those of the candidate "
                           f"{record.candidate}; name the items to explain under {label} with --item.")
    chosen = names if named else [n for n in names if _rationale_less(record, n, label)]
    if not chosen:
        raise HarnessError(f"every LLM reviewer of this run ({', '.join(names)}) wrote its rationale with its verdict; "
                           "the report shows it already. Name a reviewer with --reviewer, or items with --item.")
    from harness.reporting.legacy import candidate_errors

    errors = candidate_errors(record)
    opened: dict[tuple[str, str], Opened] = {}

    def add(name: str, item_id: str, why: str) -> None:
        entry = opened.setdefault((name, item_id), Opened(item_id, name, []))
        if why not in entry.why:
            entry.why.append(why)

    for name in chosen:
        found = errors.reviewers.get(name)
        for exemplars in found.exemplars if found else []:
            for e in exemplars.items:
                add(name, e.item_id, f"{exemplars.kind} exemplar")
    for group in errors.diagnosis.groups if errors.diagnosis else []:
        if group.reviewer not in chosen or group.policy != label:
            continue
        for kind in group.kinds:
            for clusters in (kind.by_rule, kind.by_slice, kind.by_text):
                for c in clusters[:CLUSTERS_SHOWN]:
                    for item_id in c.exemplars:
                        add(group.reviewer, item_id, f"{KIND_NAMES[kind.kind]} cluster by {c.by} '{c.key}'")
    return list(opened.values())


def _asked(record: RunRecord, item_ids: list[str], names: list[str], label: str) -> list[Opened]:
    """The items named with --item, for each LLM reviewer with a verdict on them under `label`."""
    verdicts = record.verdicts
    known = set(verdicts["item_id"].astype(str))
    opened = []
    for item_id in dict.fromkeys(item_ids):
        if item_id not in known:
            raise HarnessError(f"item '{item_id}' is not in this run ({len(known):,} items judged); give an id from "
                               "the report or verdicts.parquet." + did_you_mean(item_id, known))
        judged = set(verdicts.loc[(verdicts["item_id"].astype(str) == item_id) & (verdicts["policy"] == label),
                                  "reviewer"])
        mine = [name for name in names if name in judged]
        if not mine:
            raise HarnessError(f"item '{item_id}' has no verdict of {' or '.join(names)} under {label} (a reviewer "
                               "with a 'limit' judged a sample); choose another item or --policy.")
        opened += [Opened(item_id, name, ["asked for (--item)"]) for name in mine]
    return opened


def _explain_reviewer(record: RunRecord, name: str, label: str, opened: list[Opened], base_dir: Path,
                      experiment_path: str | None, keep: Callable[[list[Explanation]], None],
                      result: ExplainResult) -> None:
    """One reviewer's opened items: a verdict that has its rationale is kept as it is; the others are
    asked for in generation mode, `concurrency` at a time, each group written as it returns."""
    params = record.reviewers[name]
    assert isinstance(params, LLMParams)
    first = _first_verdicts(record, name, label)
    first_token = params.decide == "first_token"
    todo = []
    for o in opened:
        row = first.get(o.item_id)
        if row is None:
            result.failed.append((o, f"no verdict of {name} under {label}"))
        elif not first_token and row.rationale.strip():
            keep([_explanation(o, label, row, params, decision=row.decision, rationale=row.rationale,
                               rule_ids=row.rule_ids, categories=row.categories, source="verdict")])
        else:
            todo.append(o)
    if not todo:
        return
    reviewer = _generating_reviewer(record, name, params, base_dir, experiment_path)
    policy = _policy(record, label)
    texts = _texts(record)
    try:
        for chunk in _chunks(todo, reviewer.config.concurrency):
            items = pd.DataFrame({"item_id": [o.item_id for o in chunk],
                                  TEXT: [texts.get(o.item_id, "") for o in chunk]})
            _, jobs = reviewer.plan(items, policy)
            cached = set(reviewer.cache.get_many([job.key for job in jobs]))
            stop: BudgetExceeded | None = None
            try:
                judged = run_sync(reviewer.review(items, policy))
            except BudgetExceeded as err:
                stop, judged = err, err.verdicts
            answers = {v.item_id: v for v in judged}
            result.cached += sum(job.key in cached for job in jobs)
            result.calls += sum(job.key not in cached for job in jobs)
            new = []
            for o in chunk:
                v = answers.get(o.item_id)
                if v is None or v.abstain_kind == AbstainKind.PROVIDER_ERROR:  # not cached: a re-run asks again
                    result.failed.append((o, v.abstain_reason if v is not None else "no answer"))
                    continue
                new.append(_explanation(o, label, first[o.item_id], params, decision=str(v.decision),
                                        rationale=v.rationale, rule_ids=v.rule_ids, categories=v.categories,
                                        abstain_reason=v.abstain_reason if v.decision == ABSTAINED else ""))
            if new:
                keep(new)
            if stop is not None:
                raise HarnessError(f"{stop}; the explanations generated before it are kept in {EXPLANATIONS_JSON}. "
                                   "Raise the reviewer's 'max_cost_usd' or explain fewer items (--max).")
    finally:
        reviewer.close()


@dataclass(frozen=True)
class _Verdict:
    """The run's verdict on an item (its first sample), as an explanation shows it."""

    decision: str
    score: float | None
    rationale: str
    rule_ids: list[str]
    categories: list[str]


def _first_verdicts(record: RunRecord, name: str, label: str) -> dict[str, _Verdict]:
    verdicts = record.verdicts
    rows = verdicts[(verdicts["reviewer"] == name) & (verdicts["policy"] == label)].sort_values("sample")
    out: dict[str, _Verdict] = {}
    for row in rows.to_dict("records"):
        score = row.get("score")
        out.setdefault(str(row["item_id"]), _Verdict(
            decision=str(row["decision"]), score=None if score is None or pd.isna(score) else float(score),
            rationale=str(row.get("rationale") or ""), rule_ids=_strings(row.get("rule_ids")),
            categories=_strings(row.get("categories"))))
    return out


def _strings(value: object) -> list[str]:
    """A list column's cell (a list, or an array read back from Parquet) as strings."""
    return [str(v) for v in value] if isinstance(value, Iterable) and not isinstance(value, str) else []


def _explanation(o: Opened, label: str, verdict: _Verdict, params: LLMParams, *, decision: str, rationale: str,
                 rule_ids: list[str], categories: list[str], abstain_reason: str = "",
                 source: str = "generated") -> Explanation:
    return Explanation(item_id=o.item_id, reviewer=o.reviewer, policy=label, opened_as=o.why,
                       verdict_decision=verdict.decision, verdict_score=verdict.score, decision=decision,
                       rationale=rationale, rule_ids=[str(r) for r in rule_ids],
                       categories=[str(c) for c in categories], abstain_reason=abstain_reason,
                       source="verdict" if source == "verdict" else "generated", model=params.model,
                       prompt_sha256=params.prompt_sha256)


def _generating_reviewer(record: RunRecord, name: str, params: LLMParams, base_dir: Path,
                         experiment_path: str | None) -> LLMReviewer:
    """The run's reviewer as its experiment configured it, answering in generation mode (`scores: none`):
    the whole answer, online, for every item asked (no `limit` sample, one sample)."""
    from harness.config.base import resolve_path
    from harness.reviewers.llm import LLMReviewer

    entry = next((r for r in record.experiment.get("reviewers", []) if isinstance(r, dict) and r.get("name") == name),
                 None)
    if entry is None:
        raise HarnessError(f"the run's record does not hold the settings of reviewer '{name}'; re-run the experiment "
                           "with this policy-harness to explain its verdicts.")
    config = LLMReviewerConfig.model_validate(entry)
    cache = record.experiment.get("cache")
    if isinstance(cache, str):
        if experiment_path is None and not Path(cache).expanduser().is_absolute():
            raise HarnessError(f"the run's experiment keeps its judgements in the cache file '{cache}', read from the "
                               "experiment file's folder; pass that file with --experiment FILE.")
        config.use_cache(resolve_path(cache, base_dir))
    generating = config.model_copy(update={"scores": "none", "threshold": None, "limit": None, "samples": 1,
                                           "batch": False})
    generating.use_cache(config.cache_file)
    reviewer = LLMReviewer(generating, base_dir=base_dir)
    if params.prompt_sha256 and reviewer.template.sha256 != params.prompt_sha256:
        hint = "" if experiment_path else " (a relative 'prompt:' is read from the experiment file's folder: pass --experiment FILE)"
        raise HarnessError(f"reviewer '{name}''s prompt template {reviewer.template.label} is not the one the run used "
                           f"(its sha256 differs){hint}; an explanation must come from the same prompt.")
    return reviewer


def _policy(record: RunRecord, label: str) -> Policy:
    from harness.policy import parse_policy

    summary = record.policies[label]
    return parse_policy(summary.text, path=summary.path or label)


def _texts(record: RunRecord) -> dict[str, str]:
    """Each item's text as the run judged it (the joined verdicts hold injected items' too)."""
    out: dict[str, str] = {}
    for table in (record.items, record.verdicts):
        if TEXT in table and "item_id" in table:
            for item_id, text in zip(table["item_id"].astype(str), table[TEXT], strict=True):
                if isinstance(text, str):
                    out.setdefault(item_id, text)
    return out


def _chunks(opened: list[Opened], size: int) -> Iterator[list[Opened]]:
    for start in range(0, len(opened), size):
        yield opened[start:start + size]

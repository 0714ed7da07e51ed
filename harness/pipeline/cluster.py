"""Judging elsewhere: an experiment's uncached judgements out as OpenAI batch request lines, answers back in.

`export_requests` writes one line per uncached judgement of every LLM reviewer (the body batch mode sends,
built by the same function as the online request; custom_id the judgement's cache key), for `vllm run-batch`
or a Ray Data job on a GPU cluster (docs/scale.md). `import_results` reads the output lines back, checks each
against the experiment's own judgements, and stores the good answers in the judgement cache, so the next
`run` finds them there and makes no call for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.config import Experiment
from harness.errors import HarnessError
from harness.pipeline.run import load_inputs, versions_to_judge
from harness.providers.client import LLMClient, MalformedResponse
from harness.providers.local_model import is_local
from harness.reviewers import build_reviewer
from harness.reviewers.batch_lines import read_output_lines, request_line
from harness.reviewers.judgements import CacheEntry, Job, answer_entry
from harness.reviewers.llm import LLMReviewer
from harness.reviewers.llm_verdict import verdict_schema

MAX_PROBLEMS_SHOWN = 20


@dataclass
class Planned:
    """One LLM reviewer's judgements under one policy version, and how to build and read their requests."""

    reviewer: LLMReviewer
    client: LLMClient
    lines: dict[str, bytes]  # cache key -> request line, uncached judgements only
    keys: set[str]  # every judgement's key, cached or not


@dataclass
class Imported:
    """What `import_results` did: answers stored, lines already cached, and the skipped lines with why."""

    stored: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)


def plan(experiment: Experiment, limit: int | None = None) -> list[Planned]:
    """Every LLM reviewer x policy version's judgements, as `run` would make them (same sample, same keys)."""
    candidate, baseline, evalset = load_inputs(experiment)
    limit = limit or experiment.limit
    if limit:
        evalset = evalset.sample(limit, experiment.seed)
    policies = [p for p in (candidate, baseline) if p is not None]
    out: list[Planned] = []
    for config in experiment.reviewers:
        reviewer = build_reviewer(config, base_dir=Path(experiment.base_dir))
        if not isinstance(reviewer, LLMReviewer):
            continue  # a classifier judges on this machine in seconds
        if is_local(reviewer.config.model):
            raise HarnessError(f"reviewer '{reviewer.name}' runs the managed local model on this machine; batch "
                               "export is for models served elsewhere (give the model and api_base the cluster "
                               "serves).")
        client: LLMClient = reviewer._ensure_client()  # builds the request only: no server starts for a remote model
        model = reviewer.config.model.split("/", 1)[-1]  # the provider's own name, as batch mode sends it
        for policy in versions_to_judge(reviewer, policies):
            builder, jobs = reviewer.plan(evalset.items, policy)
            cached = reviewer.cache.get_many([job.key for job in jobs])
            schema = verdict_schema(policy)
            lines = {job.key: request_line(job.key, client.chat_request(builder.messages(job.text), schema, model)[0])
                     for job in _uncached(jobs, cached)}
            out.append(Planned(reviewer, client, lines, {job.key for job in jobs}))
    if not out:
        raise HarnessError("the experiment has no LLM reviewer: nothing to judge elsewhere.")
    return out


def _uncached(jobs: list[Job], cached: dict[str, CacheEntry]) -> list[Job]:
    seen: set[str] = set()
    out = []
    for job in jobs:
        if job.key not in cached and job.key not in seen:
            seen.add(job.key)
            out.append(job)
    return out


def export_requests(experiment: Experiment, out: Path, limit: int | None = None) -> tuple[int, int]:
    """Write the uncached judgements as batch request lines to `out`; (lines written, judgements in all)."""
    planned = plan(experiment, limit)
    written: set[str] = set()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as handle:
        for part in planned:
            for key, line in part.lines.items():
                if key not in written:  # two reviewers with the same settings share judgements
                    written.add(key)
                    handle.write(line)
    partial.replace(out)  # a half-written file never looks like a finished one
    return len(written), len({key for part in planned for key in part.keys})


def import_results(experiment: Experiment, results: Path, limit: int | None = None) -> Imported:
    """Store every good answer of the output file in the judgement cache; report and skip the rest."""
    if not results.is_file():
        raise HarnessError("file not found; give the output file of the batch job.", path=results)
    planned = plan(experiment, limit)
    owner = {key: part for part in reversed(planned) for key in part.keys}
    raw = results.read_bytes()
    lines = raw.split(b"\n")
    done = Imported()
    answers: dict[int, list[tuple[str, CacheEntry]]] = {}  # by reviewer: each may have its own cache file
    seen: set[str] = set()
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        parsed = read_output_lines(text, results.name)
        if not parsed:
            cut = number == len(lines) and not raw.endswith(b"\n")
            done.problems.append(f"line {number}: " + ("cut short (the file ends mid-line; the job may still be "
                                                       "writing it)" if cut else "not a batch output line"))
            continue
        line = parsed[0]
        part = owner.get(line.custom_id)
        if part is None:
            done.problems.append(f"line {number}: custom_id '{line.custom_id[:80]}' is no judgement of this "
                                 "experiment (another experiment's file, or the experiment changed)")
            continue
        if line.custom_id in seen:
            continue
        if not line.answered:
            done.problems.append(f"line {number}: {line.error or 'no answer'}")
            continue
        try:
            completion = part.client.parse_chat_completion(line.body,
                                                           price_factor=part.reviewer.config.batch_discount)
        except MalformedResponse as err:
            done.problems.append(f"line {number}: {err}")
            continue
        seen.add(line.custom_id)
        if line.custom_id not in part.lines:
            done.already += 1
            continue
        answers.setdefault(id(part.reviewer), []).append((line.custom_id, answer_entry(completion)))
    by_id = {id(part.reviewer): part.reviewer for part in planned}
    for reviewer_id, entries in answers.items():
        by_id[reviewer_id].cache.put_many(entries)
        done.stored += len(entries)
    return done


def problem_lines(done: Imported) -> list[str]:
    """The skipped lines for the terminal: the first MAX_PROBLEMS_SHOWN, then how many more."""
    shown = done.problems[:MAX_PROBLEMS_SHOWN]
    rest = len(done.problems) - len(shown)
    return shown + ([f"... and {rest} more skipped lines"] if rest else [])

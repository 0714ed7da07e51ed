"""Drift canaries: items with settled gold that every run of an LLM reviewer judges afresh.

The experiment's `canaries:` file is read with the eval set's column and label mapping. Each run
sends every canary to the model under the candidate policy (never answered from the cache; the
answers are still written to it), pairs the decisions with the same reviewer's previous run on the
same canaries and policy version, and appends its own decisions to the canary history
(`canaries.jsonl`, beside the judgement cache). docs/stability.md has the method."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from harness._util.cache_dir import cache_file
from harness._util.hashing import sha256_json
from harness.config import Experiment
from harness.errors import BudgetExceeded, HarnessError
from harness.evalset import EvalSet, load_evalset
from harness.labels import BENIGN, UNKNOWN
from harness.metrics.drift import DECIDED, canary_drift
from harness.metrics.samples import majority
from harness.policy import Policy
from harness.record.drift import CANARY_HISTORY, CanaryDrift, CanaryRun
from harness.reviewers import Reviewer
from harness.verdicts import verdict_table

log = logging.getLogger(__name__)


@runtime_checkable
class FreshCapable(Protocol):
    """A reviewer that can be told to send every judgement to its model (LLMReviewer)."""

    read_cache: bool


def load_canaries(experiment: Experiment, policy: Policy | None = None) -> EvalSet | None:
    """The canary set, read like the eval set (its columns and labels), its gold checked against
    `policy`'s categories when given; None without `canaries:`."""
    if not experiment.canaries:
        return None
    config = experiment.eval_set.model_copy(update={
        "path": experiment.canaries, "name": "canaries", "annotations": None, "strata": None, "prevalence": None,
        "from_path": None, "format": None})
    canaries = load_evalset(config, base_dir=Path(experiment.base_dir))
    if len(canaries) == 0:
        raise HarnessError("the canary set has no items; add items with settled gold or remove 'canaries'.",
                           path=experiment.resolve(experiment.canaries))
    if policy is not None:
        canaries.check_labels(policy.category_ids, policy_path=policy.path)
    return canaries


def history_file(experiment: Experiment | None = None) -> Path:
    """The canary history: `canaries.jsonl` beside the judgement cache the experiment uses."""
    return cache_file(experiment.cache_file if experiment is not None else None).parent / CANARY_HISTORY


async def judge_canaries(reviewers: list[Reviewer], policy: Policy, canaries: EvalSet, experiment: Experiment, *,
                         run: str, created_at: str, out_dir: Path) -> dict[str, CanaryDrift]:
    """Every LLM reviewer judges the canaries afresh; each gets its drift block, and the history one line."""
    history = history_file(experiment)
    previous_runs = read_history(history)
    key = canaries_sha256(canaries)
    gold = {str(i): g != BENIGN for i, g in zip(canaries.items["item_id"], canaries.items["gold"], strict=True)
            if g != UNKNOWN}
    out: dict[str, CanaryDrift] = {}
    for reviewer in reviewers:
        if not isinstance(reviewer, FreshCapable) or not reviewer.reads_policy:
            continue
        try:
            with _fresh(reviewer):
                verdicts = await reviewer.review(canaries.items, policy)
        except BudgetExceeded:  # the canaries are not worth more than the budget: no drift block, no history
            log.warning("the budget of reviewer %s ran out on the drift canaries; no drift check this run",
                        reviewer.name)
            continue
        table = majority(verdict_table(verdicts, policy=policy.label, reviewer=reviewer.name))
        decisions = {str(i): str(d) for i, d in zip(table["item_id"], table["decision"], strict=True)}
        previous = _latest(previous_runs, reviewer.name, policy, key)
        drift = canary_drift(decisions, gold, previous, reviewer=reviewer.name)
        out[reviewer.name] = drift
        params = reviewer.params()
        append_history(history, CanaryRun(
            run=run, created_at=created_at, out_dir=str(out_dir), reviewer=reviewer.name,
            model=params.model if params.type == "llm" else "", policy=policy.label,
            policy_sha256=policy.sha256, canaries_sha256=key, decisions=decisions, drift=drift))
    return out


def canaries_sha256(canaries: EvalSet) -> str:
    """What makes two runs' canaries the same: their ids, texts and gold."""
    items = canaries.items
    return sha256_json(sorted(zip(items["item_id"].astype(str), items["text"].astype(str),
                                  items["gold"].astype(str), strict=True)))


def read_history(path: Path) -> list[CanaryRun]:
    """Every readable line of the canary history, oldest first; a damaged line is skipped."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValidationError, ValueError):
            out.append(CanaryRun.model_validate_json(line))
    return out


def append_history(path: Path, entry: CanaryRun) -> None:
    """One line appended (O_APPEND: two runs finishing together do not interleave lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(entry.model_dump(mode="json"), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def reviewer_history(reviewer: str, path: Path | None = None) -> list[CanaryRun]:
    """A reviewer's canary runs, oldest first (`runs --drift --reviewer NAME`)."""
    return [r for r in read_history(path or history_file()) if r.reviewer == reviewer]


def _latest(runs: list[CanaryRun], reviewer: str, policy: Policy, key: str) -> CanaryRun | None:
    same = [r for r in runs if r.reviewer == reviewer and r.policy == policy.label
            and r.policy_sha256 == policy.sha256 and r.canaries_sha256 == key
            and any(d in DECIDED for d in r.decisions.values())]
    return same[-1] if same else None


@contextlib.contextmanager
def _fresh(reviewer: FreshCapable) -> Iterator[None]:
    before, reviewer.read_cache = reviewer.read_cache, False
    try:
        yield
    finally:
        reviewer.read_cache = before

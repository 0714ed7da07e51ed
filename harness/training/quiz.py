"""`quiz`: a certification quiz drawn from an experiment's eval set, stratified by gold and slices."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import Experiment
from harness.errors import HarnessError
from harness.evalset import CORE_COLUMNS, GOLD, ID, MISSING_SLICE, TEXT, EvalSet
from harness.labels import BENIGN, UNKNOWN
from harness.policy import Policy
from harness.record import atomic_write_text, read_record
from harness.record.proficiency import ANSWER_KEY, QUESTIONS, QUIZ_JSON, QuizInfo, StratumCover
from harness.training.vocabulary import vocabulary
from harness.verdicts import ABSTAINED, ACTIONED, as_list, join_list

DEFAULT_MIN_PER_SLICE = 3
# How much more likely a hard item is to be drawn: per share of reviewers who got it wrong, and
# once more when they disagreed with each other.
WRONG_WEIGHT, DISAGREE_WEIGHT = 4.0, 2.0
_SPLIT = re.compile(r"[;,\s]+")
log = logging.getLogger(__name__)


@dataclass
class Quiz:
    info: QuizInfo
    questions: pd.DataFrame
    key: pd.DataFrame


def build_quiz(experiment: Experiment, items: int, *, seed: int | None = None,
               min_per_slice: int = DEFAULT_MIN_PER_SLICE, from_run: str | Path | None = None,
               show: list[str] | None = None, source: str | Path | None = None,
               labels: Mapping[str, str] | None = None) -> Quiz:
    """Draw `items` items that are not repeated, every gold label and slice value covered by at least
    `min_per_slice` where the set has them, weighted towards the hard items of `from_run`.
    `source` is the experiment file, named in errors. `labels` maps the team's answer words to
    benign / violating / skip; quiz.json keeps them (over the experiment's label mapping) for grading."""
    from harness.pipeline.run import load_inputs

    policy, _, evalset = load_inputs(experiment)
    vocabulary([*policy.category_ids, *evalset.items[GOLD].astype(str).unique()], (labels or {}, None))
    seed = experiment.seed if seed is None else seed
    pool = evalset.items[evalset.items[GOLD].astype(str) != UNKNOWN].reset_index(drop=True)
    show = list(show or [])
    unknown_show = [c for c in show if c not in evalset.slices]
    if unknown_show:
        raise HarnessError(f"--show '{unknown_show[0]}' is not a slice of the eval set (slices: "
                           f"{', '.join(evalset.slices) or 'none'}); name one of them.", path=source)
    if min_per_slice < 0:
        raise HarnessError(f"--min-per-slice must be 0 or more. Got {min_per_slice} instead.")
    if items < 1 or items > len(pool):
        raise HarnessError(f"--items must be between 1 and {len(pool)} (the eval set's items with a known gold "
                           f"label). Got {items} instead.", path=source)
    runs = read_record(from_run) if from_run else None
    weights, hard = _hardness(pool, runs.verdicts[runs.verdicts["policy"] == runs.candidate]) if runs else (
        np.ones(len(pool)), np.zeros(len(pool), dtype=bool))
    rng = np.random.default_rng(seed)
    # A weighted random order (Efraimidis-Spirakis keys): taking the top keys of any subset is a
    # weighted draw without replacement from it, so every stage below draws from one order.
    keys = rng.random(len(pool)) ** (1.0 / weights)
    picked, cover = _draw(pool, evalset.slices, items, min_per_slice, keys, source)
    chosen = pool.iloc[picked].copy()
    chosen = chosen.iloc[rng.permutation(len(chosen))].reset_index(drop=True)
    rule_column, rule_source = _rule_column(evalset, policy)
    if rule_column:
        rules = chosen[rule_column].astype(str).map(_rule_text)
    elif runs is not None:
        cited = _cited_rules(runs.verdicts[runs.verdicts["policy"] == runs.candidate], pool)
        rules = chosen[ID].map(cited).fillna("")
        # A run whose reviewers cited no rule on these items gives the key none: say so, not "run:".
        rule_source = f"run:{from_run}" if (rules != "").any() else "none"
    else:
        rules = pd.Series("", index=chosen.index)
    slices = [s for s in evalset.slices if s != rule_column]
    key = pd.DataFrame({"id": chosen[ID].astype(str), "gold": chosen[GOLD].astype(str),
                        "categories": chosen[GOLD].astype(str).map(lambda g: "" if g == BENIGN else g),
                        "rule_ids": rules.to_numpy()})
    for column in slices:
        key[column] = chosen[column].astype(str).to_numpy()
    questions = pd.DataFrame({"id": key["id"], "text": chosen[TEXT].astype(str).to_numpy()})
    for column in show:
        questions[column] = chosen[column].astype(str).to_numpy()
    info = QuizInfo(
        experiment=experiment.name, experiment_path=str(source or ""), policy_id=policy.id,
        policy_version=policy.version, policy_sha256=policy.sha256, evalset=evalset.name,
        evalset_sha256=evalset.sha256, seed=seed, items=len(key), min_per_slice=min_per_slice, slices=slices,
        shown_columns=show, rule_source=rule_source, from_run=str(from_run) if from_run else None,
        hard_items=int(hard[picked].sum()), labels={**(experiment.eval_set.labels or {}), **(labels or {})},
        categories=policy.category_ids, cover=cover,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return Quiz(info=info, questions=questions, key=key)


def write_quiz(quiz: Quiz, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / QUESTIONS, quiz.questions.to_csv(index=False))
    atomic_write_text(out / ANSWER_KEY, quiz.key.to_csv(index=False))
    atomic_write_text(out / QUIZ_JSON, quiz.info.model_dump_json(indent=2) + "\n")
    return out


def quiz_text(quiz: Quiz, out_dir: Path) -> str:
    info = quiz.info
    golds = Counter(quiz.key["gold"])
    lines = [f"quiz: {info.items} items from {info.evalset} under {info.policy_id}@v{info.policy_version} "
             f"(seed {info.seed}); gold " + ", ".join(f"{g} {n}" for g, n in sorted(golds.items()))]
    short = [c for c in info.cover if c.available < c.wanted or c.picked < c.wanted]
    for c in short:
        lines.append(f"  {c.column}={c.value}: {c.picked} items (the set has only {c.available})")
    if info.from_run:
        lines.append(f"  {info.hard_items} hard items from {info.from_run}")
    lines.append(f"  rule ids: {_rule_line(quiz)}")
    lines.append(f"  outputs: {out_dir / QUESTIONS}, {out_dir / ANSWER_KEY}, {out_dir / QUIZ_JSON}")
    return "\n".join(lines)


def _rule_line(quiz: Quiz) -> str:
    """Where the key's rule ids came from, in words that are true when none was found."""
    info = quiz.info
    cited = int((quiz.key["rule_ids"] != "").sum())
    if info.rule_source.startswith("run:"):
        return f"cited in {info.rule_source} for {cited} of {info.items} items"
    if info.rule_source == "none":
        where = "none cited in the run" if info.from_run else "none (no eval-set column of the policy's rule ids)"
        return f"{where}; the grading will have no per-rule heat map or rule weaknesses"
    return info.rule_source


def _draw(pool: pd.DataFrame, slices: list[str], n: int, min_per: int, keys: np.ndarray,
          source: str | Path | None) -> tuple[np.ndarray, list[StratumCover]]:
    """Cover every stratum first (the scarcest first), then fill by gold in proportion to the set."""
    strata = [(GOLD, value) for value in sorted(pool[GOLD].astype(str).unique())]
    strata += [(column, value) for column in slices for value in sorted(pool[column].astype(str).unique())
               if value != MISSING_SLICE]
    masks = {s: (pool[s[0]].astype(str) == s[1]).to_numpy() for s in strata}
    order = np.argsort(-keys, kind="stable")
    chosen = np.zeros(len(pool), dtype=bool)
    member = np.column_stack([masks[s] for s in strata])
    deficit = np.minimum(min_per, member.sum(axis=0))
    for column in sorted(range(len(strata)), key=lambda j: (int(deficit[j]), strata[j])):
        while deficit[column] > 0:
            # Of the stratum's items, the one that also fills most other unmet strata (a smaller
            # cover), the draw order breaking ties: keys lie in [0, 1), hit counts are integers.
            hits = member[:, deficit > 0].sum(axis=1) + keys
            hits[chosen | ~member[:, column]] = -1.0
            best = int(np.argmax(hits))
            chosen[best] = True
            deficit = np.maximum(deficit - member[best], 0)
    if chosen.sum() > n:
        raise HarnessError(f"{n} items cannot cover every gold label and slice value with --min-per-slice "
                           f"{min_per}: this cover needs {int(chosen.sum())} items ({len(strata)} strata); raise "
                           f"--items to {int(chosen.sum())} or lower --min-per-slice.", path=source)
    gold = pool[GOLD].astype(str).to_numpy()
    target = _apportion(dict(sorted(Counter(str(value) for value in gold).items())), n)
    need = {value: max(0, count - int((chosen & (gold == value)).sum())) for value, count in target.items()}
    budget = n - int(chosen.sum())
    if sum(need.values()) > budget:  # the cover over-filled some label: share what is left among the others
        need = _apportion(need, budget)
    for value, count in need.items():
        if count > 0:
            chosen[[i for i in order if gold[i] == value and not chosen[i]][:count]] = True
    rest = n - int(chosen.sum())
    if rest > 0:
        chosen[[i for i in order if not chosen[i]][:rest]] = True
    cover = []
    for stratum in strata:
        available = int(masks[stratum].sum())
        cover.append(StratumCover(column=stratum[0], value=stratum[1], available=available,
                                  wanted=min_per, picked=int((chosen & masks[stratum]).sum())))
        if available < min_per:
            log.warning("%s=%s has only %d items in the eval set, fewer than --min-per-slice %d; the quiz "
                        "has all of them.", stratum[0], stratum[1], available, min_per)
    return np.flatnonzero(chosen), cover


def _apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """`total` split in proportion to `weights`: each its floor, then one more to the largest
    remainders (ties: the earlier key)."""
    whole = sum(weights.values())
    exact = {key: weight / whole * total for key, weight in weights.items()}
    counts = {key: math.floor(value) for key, value in exact.items()}
    for key in sorted(exact, key=lambda key: exact[key] - counts[key], reverse=True)[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def _hardness(pool: pd.DataFrame, verdicts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Draw weights and hard flags of the pool's items from a run's decisions (first sample)."""
    decided = verdicts[(verdicts["decision"] != ABSTAINED) & (verdicts["sample"] == 0)]
    gold = pool.set_index(ID)[GOLD].astype(str)
    decided = decided[decided["item_id"].isin(gold.index)]
    violating = decided["item_id"].map(gold).to_numpy() != BENIGN
    wrong = (decided["decision"].to_numpy() == ACTIONED) != violating
    per_item = decided.assign(_wrong=wrong).groupby("item_id").agg(
        wrong=("_wrong", "mean"), kinds=("decision", "nunique"))
    share = pool[ID].map(per_item["wrong"]).fillna(0.0).to_numpy(dtype=float)
    disagreed = (pool[ID].map(per_item["kinds"]).fillna(1).to_numpy() > 1)
    weights = 1.0 + WRONG_WEIGHT * share + DISAGREE_WEIGHT * disagreed
    return weights, (share > 0) | disagreed


def _rule_column(evalset: EvalSet, policy: Policy) -> tuple[str | None, str]:
    """An eval-set column whose every non-blank value is a list of the policy's rule ids."""
    known = set(policy.rule_ids)
    for column in evalset.items.columns:
        if column in CORE_COLUMNS:
            continue
        values = {str(v) for v in evalset.items[column].dropna().unique()} - {"", MISSING_SLICE, "nan"}
        parts = {p for v in values for p in _SPLIT.split(v) if p}
        if known and parts and parts <= known:
            return column, f"column:{column}"
    return None, "none"


def _rule_text(value: str) -> str:
    return ";".join(p for p in _SPLIT.split(value) if p and p != MISSING_SLICE and p != "nan")


def _cited_rules(verdicts: pd.DataFrame, pool: pd.DataFrame) -> dict[str, str]:
    """Per item, the rule ids cited by reviewers who decided it as gold has it, most cited first."""
    gold = pool.set_index(ID)[GOLD].astype(str)
    frame = verdicts[verdicts["item_id"].isin(gold.index) & (verdicts["decision"] != ABSTAINED)]
    right = (frame["decision"].to_numpy() == ACTIONED) == (frame["item_id"].map(gold).to_numpy() != BENIGN)
    out: dict[str, str] = {}
    for item_id, group in frame[right].groupby("item_id"):
        counts = Counter(r for cell in group["rule_ids"] for r in as_list(cell))
        out[str(item_id)] = join_list(r for r, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out

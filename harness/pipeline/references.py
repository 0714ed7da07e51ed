"""Every name an experiment gives, checked against the files it names, before any model is called.

A gate on a category the policy lacks, a slice value the eval set never holds or a prevalence for a
misspelled category would otherwise end a run as a silent "no data"; here each is one error naming
the experiment file, the key, the name, the closest real name and the choices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.config import ClassifierReviewerConfig, EvalSetConfig, Experiment, GateSpec
from harness.errors import HarnessError, did_you_mean
from harness.evalset import GOLD, ID, EvalSet, load_evalset
from harness.labels import BENIGN, UNKNOWN
from harness.policy import Policy

SHOWN = 12  # choices listed in a message; the rest are counted
# Which rates a gate's scope reports (harness.metrics.confusion): a gate on anything else never has data.
CATEGORY_METRICS = ("over_enforcement", "leakage")
NEEDS_VIOLATING = ("leakage",)
NEEDS_BENIGN = ("over_enforcement",)  # false_action_share divides by actioned items


@dataclass(frozen=True)
class Scope:
    """What the names of one experiment may refer to."""
    experiment: Experiment
    policies: tuple[Policy, ...]

    def fail(self, message: str) -> HarnessError:
        return HarnessError(message, path=self.experiment.source or "experiment")


def check_references(experiment: Experiment, candidate: Policy, baseline: Policy | None, evalset: EvalSet) -> None:
    """Raise HarnessError for the first name that refers to nothing in the policies or eval set (the
    policies' distinct versions are checked before the eval set loads: `check_distinct_versions`)."""
    scope = Scope(experiment, tuple(p for p in (candidate, baseline) if p is not None))
    check_reviewers(scope)
    check_evalset_names(scope, experiment.eval_set, evalset, "eval_set")
    check_gates(scope, evalset)
    check_injection(scope, evalset)
    for index, reviewer in enumerate(experiment.reviewers):
        if isinstance(reviewer, ClassifierReviewerConfig) and reviewer.train is not None:
            train = load_evalset(reviewer.train, base_dir=Path(experiment.base_dir))
            check_evalset_names(scope, reviewer.train, train, f"reviewers[{index}].train")


def check_distinct_versions(experiment: Experiment, candidate: Policy, baseline: Policy | None) -> None:
    """The candidate and baseline must differ in id or version: results are keyed by `id@vN`, so two
    policies with one label would be merged into one (a crash, or a comparison of a policy with itself)."""
    if baseline is not None and baseline.label == candidate.label:
        raise HarnessError(f"policy {candidate.path} and baseline {baseline.path} are both {candidate.label} (same "
                           "id and version in their front matter); bump 'version' in the candidate's front matter.",
                           path=experiment.source or "experiment")


def check_reviewers(scope: Scope) -> None:
    for index, reviewer in enumerate(scope.experiment.reviewers):
        if not reviewer.name.strip() or not reviewer.name.isprintable():
            raise scope.fail(f"'reviewers[{index}].name' is '{shown(reviewer.name)}'; give the reviewer a name "
                             "of printable characters (it names the reviewer in reports and MLflow).")


def check_evalset_names(scope: Scope, config: EvalSetConfig, evalset: EvalSet, key: str) -> None:
    """Label mapping targets, category columns, slice names, strata and prevalences of one eval set."""
    allowed = [*categories_of_all(scope), BENIGN, UNKNOWN]
    for raw, target in (config.labels or {}).items():
        if target not in allowed:
            raise scope.fail(unknown(f"{key}.labels.{raw}", target, _category_or_label(scope), allowed,
                                     of=f"label '{shown(raw)}' of eval set {evalset.source} is mapped to"))
    for cid in config.columns.categories or {}:
        check_category(scope, f"{key}.columns.categories", cid)
    if config.labels is None and config.columns.categories is None:
        strangers = sorted(set(gold_parts(evalset.items[GOLD])) - set(allowed))
        if strangers:
            gold = strangers[0]
            raise scope.fail(f"{key}: the eval set {evalset.source} has gold label '{shown(gold)}'"
                             f"{_where(evalset, gold)}, which is not {_category_or_label(scope)}."
                             f"{did_you_mean(gold, allowed)} Fix the data (use one of: {listing(allowed)}), "
                             f"or map it with {key}.labels if it is a label you mean.")
    for column, names in (config.slice_labels or {}).items():
        if column not in evalset.slices:
            raise scope.fail(unknown(f"{key}.slice_labels", column, f"a slice column of eval set {evalset.source}",
                                     evalset.slices))
        present = set(evalset.items[column])
        unmapped = sorted(present - set(names.values()))
        for raw, name in names.items():
            if name not in present:
                raise scope.fail(unknown(f"{key}.slice_labels.{column}", raw,
                                         f"a value of column '{column}' in eval set {evalset.source}", unmapped))
    if config.strata is not None:
        values = sorted(str(v) for v in set(evalset.items[config.strata.column]))
        for stratum in config.strata.sizes:
            if stratum not in values:
                raise scope.fail(unknown(f"{key}.strata.sizes", stratum,
                                         f"a value of column '{config.strata.column}' in eval set {evalset.source}",
                                         values))
    if isinstance(config.prevalence, dict):
        for cid in config.prevalence:
            check_category(scope, f"{key}.prevalence", cid)


def check_gates(scope: Scope, evalset: EvalSet) -> None:
    for name, gate in scope.experiment.gates.items():
        key = f"gates.{name}"
        metric = name.split("@", 1)[0]
        if gate.category is not None and gate.slice is not None:
            raise scope.fail(f"'{key}' gives both 'category' and 'slice'; a gate measures one scope, so split it "
                             "into two gates.")
        if gate.per is not None:
            if gate.per not in evalset.slices:
                raise scope.fail(unknown(f"{key}.per", gate.per, f"a slice column of eval set {evalset.source}",
                                         evalset.slices, fix="add it to eval_set.columns.slices or "))
        elif gate.category is not None:
            check_category(scope, f"{key}.category", gate.category)
            if metric not in CATEGORY_METRICS:
                raise scope.fail(f"'{key}' gates {metric} on category '{gate.category}', which is reported "
                                 f"overall and per slice only; per-category gates take {' or '.join(CATEGORY_METRICS)}.")
            in_category = evalset.items[GOLD].map(lambda g, c=gate.category: c in str(g).split(";"))
            check_gate_data(scope, key, metric, evalset, evalset.items[in_category],
                            f"of category '{gate.category}'")
        elif gate.slice is not None:
            column, value = check_slice(scope, key, gate, evalset)
            check_gate_data(scope, key, metric, evalset, evalset.items[evalset.items[column] == value],
                            f"with {column} = {value}")
        elif metric in NEEDS_VIOLATING + NEEDS_BENIGN:
            check_gate_data(scope, key, metric, evalset, evalset.items, "")


def check_slice(scope: Scope, key: str, gate: GateSpec, evalset: EvalSet) -> tuple[str, str]:
    assert gate.slice is not None
    if len(gate.slice) != 1:
        raise scope.fail(f"'{key}.slice' names {len(gate.slice)} columns; a gate's slice is one column and one "
                         "value, e.g. slice: {tactic: counter_speech}.")
    column, value = next(iter(gate.slice.items()))
    if column not in evalset.slices:
        raise scope.fail(unknown(f"{key}.slice", column, f"a slice column of eval set {evalset.source}",
                                 evalset.slices, fix="add it to eval_set.columns.slices or "))
    values = sorted(set(evalset.items[column]))
    if value not in values:
        raise scope.fail(unknown(f"{key}.slice.{column}", value, f"a value of column '{column}' in eval set "
                                 f"{evalset.source}", values))
    return column, value


def check_gate_data(scope: Scope, key: str, metric: str, evalset: EvalSet, items: pd.DataFrame, where: str) -> None:
    """A gate whose rate has an empty denominator in the whole eval set would only ever say 'no data'."""
    gold = items[GOLD].astype(str)
    if metric in NEEDS_VIOLATING and not (~gold.isin([BENIGN, UNKNOWN])).any():
        raise scope.fail(f"'{key}' gates leakage, but eval set {evalset.source} has no violating items"
                         f"{' ' + where if where else ''}; add some or drop the gate.")
    if metric in NEEDS_BENIGN and not (gold == BENIGN).any():
        raise scope.fail(f"'{key}' gates {metric}, which is measured on benign items, but eval set "
                         f"{evalset.source} has no benign items{' ' + where if where else ''}; add some or drop the gate.")


def check_injection(scope: Scope, evalset: EvalSet) -> None:
    experiment = scope.experiment
    if not experiment.injection.enabled:
        return
    from harness.reviewers import Injectable, has_capability

    if not any(has_capability(r, Injectable) for r in experiment.reviewers):
        raise scope.fail("'injection.enabled' attacks the prompts of LLM reviewers, and this experiment has none; "
                         "add an LLM reviewer or set injection.enabled: false.")
    if not (~evalset.items[GOLD].astype(str).isin([BENIGN, UNKNOWN])).any():
        raise scope.fail(f"'injection.enabled' appends attacks to violating items, and eval set {evalset.source} "
                         "has none; add violating items or set injection.enabled: false.")


def check_category(scope: Scope, key: str, cid: str) -> None:
    """`cid` must be a category of the policy, and of the baseline when there is one."""
    for policy in scope.policies:
        if cid not in policy.category_ids:
            raise scope.fail(unknown(key, cid, f"a category of policy {policy.path or policy.label}",
                                     policy.category_ids))


def categories_of_all(scope: Scope) -> list[str]:
    """Category ids every policy of the run has (a label must mean something under each)."""
    first, *rest = scope.policies
    return [c for c in first.category_ids if all(c in p.category_ids for p in rest)]


def _where(evalset: EvalSet, gold: str) -> str:
    """' on items 'a', 'b', 'c'': the first few items carrying a gold label (or label part)."""
    holds = evalset.items[GOLD].astype(str).map(lambda value: gold in value.split(";"))
    ids = [str(i) for i in evalset.items.loc[holds, ID].head(4)]
    more = " and more" if len(ids) > 3 else ""
    return f" on item{'s' if len(ids) > 1 else ''} {', '.join(repr(i) for i in ids[:3])}{more}" if ids else ""


def gold_parts(gold: pd.Series) -> Iterable[str]:
    return {part for value in set(gold.astype(str)) for part in value.split(";")}


def unknown(key: str, name: str, what: str, choices: Sequence[str], *, fix: str = "", of: str = "") -> str:
    """"'gates.x.category' is 'S4', which is not a category of policy p.md. Did you mean 'S3'? ..."."""
    text = str(name)
    hint = did_you_mean(text, [str(c) for c in choices])
    if choices:
        choose = f"{fix}use one of: {listing(choices)}"
    else:
        choose = fix.removesuffix(" or ") or "there is nothing in the data to choose from"
    named = f"'{key}': {of}" if of else f"'{key}' is"
    return f"{named} '{shown(text)}', which is not {what}.{hint} {choose[:1].upper()}{choose[1:]}."


def _category_or_label(scope: Scope) -> str:
    candidate, *baseline = [p.path or p.label for p in scope.policies]
    also = f" (and of the baseline {baseline[0]})" if baseline else ""
    return f"a category of policy {candidate}{also}, nor '{BENIGN}' or '{UNKNOWN}'"


def listing(choices: Sequence[str]) -> str:
    names = [f"'{shown(str(c))}'" for c in choices[:SHOWN]]
    more = f" (+{len(choices) - SHOWN} more)" if len(choices) > SHOWN else ""
    return ", ".join(names) + more


def shown(name: str, limit: int = 80) -> str:
    """A name from a file as one printable line (newlines, NUL and other controls escaped), shortened."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(name))
    return text if len(text) <= limit else text[: limit - 1] + "…"

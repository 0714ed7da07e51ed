"""Localized policies in a run (`localized:`). `auto` (the default): each item is judged with the
translation in its language when the policy has one. `side_by_side`: every item is judged with the
original and, as the candidate, with the translation in its language; the paired change per
language says whether the translation helps. `off`: the original only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.config import Experiment
from harness.errors import BudgetExceeded, HarnessError
from harness.evalset import MISSING_SLICE, EvalSet
from harness.policy import Policy
from harness.policy.localized import (
    LocalizedPolicy,
    language_tag_problem,
    load_translations,
    translation_paths,
    translation_tag,
)
from harness.record.metrics import Localized, LocalizedLanguage, Metrics, TranslationUse
from harness.reviewers import Reviewer
from harness.verdicts import Verdict


def localize(experiment: Experiment, candidate: Policy, baseline: Policy | None,
             evalset: EvalSet) -> tuple[Policy, Policy | None]:
    """(candidate, baseline) as the run judges them: with `side_by_side` the localized policy and the
    original; with `auto` each version with its own translations when items are in their languages;
    with `off` unchanged. Checks the translations and the items' language tags first."""
    if experiment.localized == "off":
        return candidate, baseline
    if experiment.localized == "side_by_side":
        return _side_by_side(experiment, candidate, baseline, evalset)
    translated = [p for p in filter(None, (candidate, baseline)) if translation_paths(p.path)]
    # A glob first: a run without translations pays for nothing more, and a set without a language
    # slice never reads them.
    column = _language_column(evalset) if translated else None
    if column is None:
        return candidate, baseline
    found = {p.path: load_translations(p) for p in translated}
    _check_tags(evalset, column)
    values = _languages(evalset, column)

    def auto(policy: Policy) -> Policy:
        translations = found.get(policy.path) or {}
        if not any(translation_tag(v, translations) for v in values):
            return policy  # no item reads a translation: the original, under its own hash
        return LocalizedPolicy.of(policy, translations, column, side_by_side=False)

    return auto(candidate), auto(baseline) if baseline is not None else None


def _side_by_side(experiment: Experiment, candidate: Policy, baseline: Policy | None,
                  evalset: EvalSet) -> tuple[Policy, Policy | None]:
    if baseline is not None:
        raise HarnessError("'localized: side_by_side' compares the policy with its own translations, so it takes "
                           "no 'baseline'; drop one of them.", path=experiment.source)
    column = _language_column(evalset)
    if column is None:
        raise HarnessError("'localized: side_by_side' judges each item with the policy in its language; add the "
                           "items' language column (BCP 47 tags) to eval_set.columns.slices as 'language'.",
                           path=experiment.source)
    translations = load_translations(candidate)
    if not translations:
        stem = Path(candidate.path).name.removesuffix(".md")
        raise HarnessError(f"'localized: side_by_side' but the policy has no translation beside it; add one such "
                           f"as {stem}.de.md with 'language: de' in its front matter.", path=candidate.path)
    _check_tags(evalset, column)
    return LocalizedPolicy.of(candidate, translations, column), candidate


def _language_column(evalset: EvalSet) -> str | None:
    from harness.metrics.languages import language_column  # here: `validate` pays for scipy only when asked

    return language_column(evalset.slices)


def _languages(evalset: EvalSet, column: str) -> list[str]:
    return sorted(set(evalset.items[column].astype(str)) - {MISSING_SLICE})


def _check_tags(evalset: EvalSet, column: str) -> None:
    for value in _languages(evalset, column):
        problem = language_tag_problem(value)
        if problem:
            raise HarnessError(f"item language {problem} (column '{column}'); fix the column, or map it with "
                               f"eval_set.slice_labels: {{{column}: {{{value}: <tag>}}}}.", path=evalset.source)


async def review_with(reviewer: Reviewer, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
    """The reviewer's verdicts under `policy`; a localized policy judges each language's items with
    that language's translation (the original for languages without one: judgements it has cached)."""
    if not isinstance(policy, LocalizedPolicy) or not reviewer.reads_policy:
        return await reviewer.review(items, policy)
    verdicts: list[Verdict] = []
    wording = items[policy.column].astype(str).map(lambda v: translation_tag(v, policy.translations) or "")
    for key, part in items.groupby(wording.to_numpy(), sort=True):
        try:
            verdicts += await reviewer.review(part, policy.translations.get(str(key)) or policy.original or policy)
        except BudgetExceeded as stop:
            raise BudgetExceeded(str(stop), [*verdicts, *stop.verdicts]) from None
    return verdicts


def translations_used(policies: list[Policy | None], items: pd.DataFrame) -> list[TranslationUse] | None:
    """For each localized version: which translation judged the items of which language (None: no version
    judged with a translation)."""
    out = []
    for policy in policies:
        if not isinstance(policy, LocalizedPolicy) or policy.column not in items:
            continue
        files = {tag: Path(t.path).name for tag, t in policy.translations.items()}
        values = sorted(set(items[policy.column].astype(str)) - {MISSING_SLICE})
        tags = {v: translation_tag(v, files) for v in values}
        out.append(TranslationUse(policy=policy.label, original=Path(policy.path).name, column=policy.column,
                                  languages={v: files[t] for v, t in tags.items() if t},
                                  untranslated=[v for v, t in tags.items() if not t]))
    return out or None


def localized_block(metrics: Metrics, column: str, translations: dict[str, str]) -> Localized | None:
    """The paired change of each translated language, per reviewer, from the run's comparison;
    `translations` maps each (lower-case) tag to its file. Also rebuilt by `rescore`."""
    if metrics.baseline is None:
        return None
    reviewers: dict[str, list[LocalizedLanguage]] = {}
    for name, comparison in metrics.comparison.items():
        rows = []
        for value, paired in sorted(comparison.slices.get(column, {}).items()):
            key = translation_tag(value, translations)
            if key:
                rows.append(LocalizedLanguage(language=value, translation=translations[key],
                                              over_enforcement_change=paired.over_enforcement_change,
                                              leakage_change=paired.leakage_change))
        reviewers[name] = rows
    return Localized(original=metrics.baseline.policy, localized=metrics.policy, column=column,
                     translations=translations, reviewers=reviewers)


def localized_metrics(metrics: Metrics, candidate: Policy, baseline: Policy | None, items: pd.DataFrame) -> None:
    """Add to the run's metrics what its translations judged (and, side by side, their paired change)."""
    metrics.translations_used = translations_used([candidate, baseline], items)
    if isinstance(candidate, LocalizedPolicy) and candidate.side_by_side:
        files = {tag: Path(t.path).name for tag, t in candidate.translations.items()}
        metrics.localized = localized_block(metrics, candidate.column, files)


def translation_summary(experiment: Experiment, candidate: Policy, baseline: Policy | None,
                        evalset: EvalSet) -> list[str]:
    """What `validate` says of each version's translations: the files found, and which item languages
    each judges (or why none is used)."""
    out, seen = [], set()
    for policy in filter(None, (candidate, baseline)):
        if policy.path in seen:
            continue  # side by side: the baseline is the candidate's own original, said once
        seen.add(policy.path)
        if isinstance(policy, LocalizedPolicy):
            original, translations = policy.original or policy, policy.translations
        else:
            original, translations = policy, load_translations(policy) if translation_paths(policy.path) else {}
        if translations:
            files = ", ".join(f"{Path(t.path).name} ({t.extra.get('language', tag)})" for tag, t in translations.items())
            out.append(f"translations of {original.label}: {files}; {_coverage(experiment, policy, evalset)}")
    return out


def _coverage(experiment: Experiment, policy: Policy, evalset: EvalSet) -> str:
    if experiment.localized == "off":
        return "not used (localized: off)"
    if not isinstance(policy, LocalizedPolicy):
        column = _language_column(evalset)
        if column is None:
            return "not used: the eval set has no language column (add it to eval_set.columns.slices)"
        return f"not used: no item is in their languages (items: {', '.join(_languages(evalset, column)[:10])})"
    counts = evalset.items[policy.column].astype(str).value_counts()
    [use] = translations_used([policy], evalset.items) or []
    judged = ", ".join(f"{v} ({counts[v]} items) with {f}" for v, f in use.languages.items())
    rest = f"; the original judges {', '.join(use.untranslated)}" if use.untranslated else ""
    return f"judge {judged}{rest}"

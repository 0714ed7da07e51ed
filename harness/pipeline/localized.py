"""`localized: true`: judge every item with the original policy and, side by side, with the translation
in the item's language; the paired change per language says whether the translation helps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.config import Experiment
from harness.errors import BudgetExceeded, HarnessError
from harness.evalset import MISSING_SLICE, EvalSet
from harness.policy import Policy
from harness.policy.localized import LocalizedPolicy, language_tag_problem, load_translations
from harness.record.metrics import Localized, LocalizedLanguage, Metrics
from harness.reviewers import Reviewer
from harness.verdicts import Verdict


def localize(experiment: Experiment, candidate: Policy, baseline: Policy | None,
             evalset: EvalSet) -> tuple[Policy, Policy | None]:
    """(candidate, baseline) as the run judges them: with `localized: true` the localized policy and the
    original; otherwise unchanged. Checks the translations and the items' language tags first."""
    if not experiment.localized:
        return candidate, baseline
    from harness.metrics.languages import language_column  # here: `validate` pays for scipy only when asked

    if baseline is not None:
        raise HarnessError("'localized: true' compares the policy with its own translations, so it takes no "
                           "'baseline'; drop one of them.", path=experiment.source)
    column = language_column(evalset.slices)
    if column is None:
        raise HarnessError("'localized: true' judges each item with the policy in its language; add the items' "
                           "language column (BCP 47 tags) to eval_set.columns.slices as 'language'.",
                           path=experiment.source)
    translations = load_translations(candidate)
    if not translations:
        stem = Path(candidate.path).name.removesuffix(".md")
        raise HarnessError(f"'localized: true' but the policy has no translation beside it; add one such as "
                           f"{stem}.de.md with 'language: de' in its front matter.", path=candidate.path)
    for value in sorted(set(evalset.items[column].astype(str)) - {MISSING_SLICE}):
        problem = language_tag_problem(value)
        if problem:
            raise HarnessError(f"item language {problem} (column '{column}'); fix the column, or map it with "
                               f"eval_set.slice_labels: {{{column}: {{{value}: <tag>}}}}.", path=evalset.source)
    return LocalizedPolicy.of(candidate, translations, column), candidate


async def review_with(reviewer: Reviewer, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
    """The reviewer's verdicts under `policy`; a localized policy judges each language's items with
    that language's translation (the original for languages without one: judgements it has cached)."""
    if not isinstance(policy, LocalizedPolicy) or not reviewer.reads_policy:
        return await reviewer.review(items, policy)
    verdicts: list[Verdict] = []
    wording = items[policy.column].astype(str).map(lambda tag: _key(policy, tag))
    for key, part in items.groupby(wording.to_numpy(), sort=True):
        try:
            verdicts += await reviewer.review(part, policy.translations.get(str(key)) or policy.original or policy)
        except BudgetExceeded as stop:
            raise BudgetExceeded(str(stop), [*verdicts, *stop.verdicts]) from None
    return verdicts


def localized_block(metrics: Metrics, policy: Policy, slices: list[str]) -> Localized | None:
    """The paired change of each translated language, per reviewer, from the run's comparison."""
    if not isinstance(policy, LocalizedPolicy) or metrics.baseline is None:
        return None
    files = {tag: Path(t.path).name for tag, t in policy.translations.items()}
    reviewers: dict[str, list[LocalizedLanguage]] = {}
    for name, comparison in metrics.comparison.items():
        rows = []
        for value, paired in sorted(comparison.slices.get(policy.column, {}).items()):
            key = _key(policy, value)
            if key:
                rows.append(LocalizedLanguage(language=value, translation=files[key],
                                              over_enforcement_change=paired.over_enforcement_change,
                                              leakage_change=paired.leakage_change))
        reviewers[name] = rows
    return Localized(original=metrics.baseline.policy, localized=metrics.policy, column=policy.column,
                     translations=files, reviewers=reviewers)


def _key(policy: LocalizedPolicy, tag: str) -> str:
    """The translation key for an item's tag ("" = the original)."""
    found = policy.for_language(tag)
    return next((k for k, t in policy.translations.items() if t is found), "") if found is not None else ""

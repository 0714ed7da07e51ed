"""Typed `consistency` block of metrics.json: does a reviewer judge the same content the same way in
every language? Computed over parallel groups (items sharing a `parallel_id`)."""

from __future__ import annotations

from harness.record.rate import Rate
from harness.record.usage import Model


class LanguagePair(Model):
    """Two languages over the groups both judged: how often they disagree, and which way."""

    first: str
    second: str
    disagreement: Rate  # groups judged differently / groups with one decision in both languages
    first_only: int  # groups actioned in `first` and allowed in `second`
    second_only: int
    p: float | None  # exact McNemar test of first_only against second_only
    p_holm: float | None
    flag: bool  # Holm-adjusted p below alpha: one language actions more often than the other


class CochranQ(Model):
    """Cochran's Q over the groups judged in every language: do the languages' action rates differ?"""

    languages: list[str]
    groups: int
    statistic: float | None
    df: int
    p: float | None


class SplitGroup(Model):
    """A parallel group whose items were not all judged alike."""

    parallel_id: str
    gold: str
    decisions: dict[str, str]  # language -> actioned / allowed / mixed (its items disagree)
    item_ids: list[str]


class Consistency(Model):
    column: str  # the language slice
    test: str
    alpha: float
    groups: int  # parallel groups with decided items in two or more languages
    identical: Rate  # groups whose decided items all got the same decision
    mixed_cells: int  # (group, language) cells whose own items disagree: left out of the paired tests
    pairs: list[LanguagePair]
    cochran_q: CochranQ | None
    split_total: int
    split: list[SplitGroup]  # the first SPLIT_CAP split groups by parallel_id
    # With an `origin` slice (translate's sets): language -> origin -> items, and the languages whose
    # items are all machine-translated (no native or reviewed item behind their figures).
    origins: dict[str, dict[str, int]] | None = None
    machine_only: list[str] | None = None

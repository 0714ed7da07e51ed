"""Typed models of metrics.json: what a run measured, per reviewer and policy version.

The metrics stage builds plain values and validates them into `Metrics` once; every reader
(reports, MLflow, compare, notebooks) reads these models, so a renamed field is a type error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harness.record.consistency import Consistency
from harness.record.drift import CanaryDrift
from harness.record.errors import CandidateErrors
from harness.record.rate import Rate as Rate
from harness.record.usage import Model as Model
from harness.record.usage import Usage as Usage


class Rates(Model):
    """Headline rates of one group of items (a reviewer under a policy, or one slice value)."""

    items: int
    benign: int
    violating: int
    unknown: int
    over_enforcement: Rate
    leakage: Rate
    false_action_share: Rate
    abstained: int
    abstention_rate: Rate
    warnings: list[str]

    def rate(self, metric: str) -> Rate | None:
        """The rate a gate or table names ('over_enforcement', 'leakage', ...); None for another name."""
        value = getattr(self, metric, None) if metric in RATE_NAMES else None
        return value if isinstance(value, Rate) else None


SMALL_SAMPLE = 30  # a rate on fewer decided items is shown as resting on a small sample
RATE_NAMES = ("over_enforcement", "leakage", "false_action_share", "abstention_rate")


class CategoryRates(Model):
    items: int
    unknown: int
    leakage: Rate
    over_enforcement: Rate
    category_false_positive: Rate
    wrong_category: int

    def rate(self, metric: str) -> Rate | None:
        value = getattr(self, metric, None) if metric in ("leakage", "over_enforcement", "category_false_positive") else None
        return value if isinstance(value, Rate) else None


class VsRest(Model):
    rest: Rate
    odds_ratio: float | None
    p: float | None
    p_holm: float | None
    flag: str | None


class LanguageRow(Model):
    items: int
    over_enforcement: Rate
    leakage: Rate
    over_enforcement_vs_rest: VsRest
    leakage_vs_rest: VsRest


class FlaggedLanguage(Model):
    language: str
    metric: str
    direction: str
    rate: float | None
    rest_rate: float | None
    p_holm: float


class Languages(Model):
    column: str
    test: str
    alpha: float
    by_language: dict[str, LanguageRow]
    flagged: list[FlaggedLanguage]


class WithoutContested(Rates):
    excluded: int
    categories: dict[str, CategoryRates]
    slices: dict[str, dict[str, Rates]]


class GateResult(Model):
    gate: str
    metric: str
    scope: str
    max: float | None
    min: float | None
    value: Rate | None
    status: str


class Stability(Model):
    samples: int
    mean_agreement: float
    unstable_items: int
    unstable_share: float
    unstable_item_ids: list[str]


class WeightedRate(Rate):
    se: float | None
    n_eff: float | None
    population_k: float
    population_n: float
    interval_method: str
    warning: str | None = None


class WeightedCategory(Model):
    leakage: WeightedRate


class Scaled(Model):
    value: float | None
    ci_low: float | None
    ci_high: float | None


class Per10k(Model):
    prevalence: float | dict[str, float]
    wrongly_actioned: Scaled
    leaked: Scaled
    note: str
    leaked_by_category: dict[str, Scaled] | None = None


class Weighted(Model):
    """Population estimates: what users in production would see."""

    method: str
    weights_from: list[str]
    over_enforcement: WeightedRate
    leakage: WeightedRate
    false_action_share: WeightedRate
    prevalence: WeightedRate
    categories: dict[str, WeightedCategory]
    per_10k: Per10k | None = None
    warnings: list[str]

    def rate(self, metric: str) -> WeightedRate | None:
        value = getattr(self, metric, None) if metric in RATE_NAMES else None
        return value if isinstance(value, WeightedRate) else None


class Curve(Model):
    threshold: list[float | None]
    over_enforcement: list[float]
    leakage: list[float]


class OperatingPoint(Model):
    goal: str
    threshold: float | None
    over_enforcement: Rate
    leakage: Rate
    gate_status: str


class PRCurve(Model):
    """Precision against recall over the score's thresholds (violating = positive)."""

    recall: list[float]
    precision: list[float]


class HeldOutPoint(Model):
    """A threshold chosen on the dev split for a goal, and its rates on the held-out split."""

    goal: str
    threshold: float | None  # None: no threshold on dev met the goal but actioning nothing
    dev_items: int
    held_out_items: int
    over_enforcement: Rate  # on the held-out items
    leakage: Rate
    gate_status: str


class Thresholds(Model):
    items: int
    unscored: int
    unknown_gold: int
    benign: int
    violating: int
    rule: str
    note: str
    warnings: list[str]
    auc: float | None
    curve: Curve | None
    operating_points: list[OperatingPoint]
    auc_ci_low: float | None = None  # 95% interval (DeLong)
    auc_ci_high: float | None = None
    average_precision: float | None = None
    pr_curve: PRCurve | None = None
    held_out: list[HeldOutPoint] | None = None  # each goal's threshold chosen on dev, confirmed on held-out
    split: str | None = None  # how the items were split for `held_out`


class ReliabilityBin(Model):
    """Items whose score fell in [low, high): their mean score against the share that violates."""

    low: float
    high: float
    items: int
    mean_score: float
    observed: float


class Calibration(Model):
    """Whether a reviewer's score reads as a probability: Brier score, expected calibration error."""

    source: str  # "logprobs", "confidence" (an LLM's), or "score" (a classifier's)
    items: int
    brier: float
    ece: float
    ece_ci_low: float | None
    ece_ci_high: float | None
    bins: list[ReliabilityBin]
    trusted: bool
    summary: str  # the one sentence the report prints


class Answers(Model):
    """Every judgement of one reviewer (each sample): answers returned, parsed, abstentions by kind."""

    judgements: int
    returned: int  # answers that came back (parsed or not); provider errors and timeouts return none
    parsed: int
    parse_rate: Rate  # parsed / returned
    abstentions: dict[str, int]


class RationaleCheck(Model):
    """One rationale-consistency check: its rate over the reviewer's decided judgements, the first items found."""

    description: str
    rate: Rate
    item_ids: list[str]


class RationaleConsistency(Model):
    """Decided judgements of an LLM reviewer whose rationale or cited ids contradict the verdict or the
    policy (docs/stability.md). `inconsistent` counts a judgement once however many checks it fails;
    the `rationale_inconsistency` gate bounds it."""

    judgements: int
    inconsistent: Rate
    checks: dict[str, RationaleCheck]


class ReviewerMetrics(Rates):
    """All metrics of one reviewer under one policy version."""

    categories: dict[str, CategoryRates]
    slices: dict[str, dict[str, Rates]]
    languages: Languages | None = None
    without_contested: WithoutContested | None = None
    gates: list[GateResult]
    stability: Stability | None = None
    answers: Answers | None = None
    weighted: Weighted | None = None
    thresholds: Thresholds | None = None
    consistency: Consistency | None = None  # same verdict for the same content in every language
    rationale: RationaleConsistency | None = None  # LLM reviewers; None in records written before it
    calibration: Calibration | None = None


class ByGold(Model):
    benign: int
    violating: int

    @property
    def total(self) -> int:
        return self.benign + self.violating


class PairedChange(Model):
    """Change of a rate between two policy versions on the same items (after - before)."""

    before: float | None
    after: float | None
    change: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_value_mid: float | None
    n: int
    up: int
    down: int
    ci_method: str
    p_adjusted: float | None = None


class PairedCounts(Model):
    items: int
    paired_decided: int
    newly_actioned: ByGold
    newly_allowed: ByGold
    fixed: ByGold
    broken: ByGold
    accuracy_mcnemar_p: float
    over_enforcement_change: PairedChange
    leakage_change: PairedChange


class SliceAdjustment(Model):
    method: str
    tests: int


class Flip(BaseModel):
    """An item whose decision changed between versions; its slice values sit beside these fields
    (their names are the eval set's slice columns, so they cannot be listed here)."""

    model_config = ConfigDict(extra="allow")

    item_id: str
    text: str | None = None
    gold: str | None = None
    decision_before: str
    decision_after: str
    rationale_before: str | None = None
    rationale_after: str | None = None

    def slice_value(self, column: str) -> str:
        value = (self.model_extra or {}).get(column)
        return "" if value is None else str(value)


class PairedComparison(PairedCounts):
    only_in_before: int
    only_in_after: int
    slices: dict[str, dict[str, PairedCounts]]
    slice_adjustment: SliceAdjustment
    flips: list[Flip]


class RelabelItem(Model):
    item_id: str
    gold: str
    contested: bool
    decisions: dict[str, str]
    mean_score: float | None


class RelabelCandidates(Model):
    total: int
    reviewers: list[str]
    items: list[RelabelItem]
    note: str | None = None


class Kappa(Model):
    kappa: float | None
    agreement: float | None
    n: int


class KappaPair(Kappa):
    a: str
    b: str


class Alpha(Model):
    alpha: float | None
    raters: int
    items: int


class ListedItem(Model):
    item_id: str
    gold: str
    text: str
    decisions: dict[str, str]


class Listed(Model):
    count: int
    items: list[ListedItem]


class Agreement(Model):
    scale: str
    reviewers: list[str]
    with_gold: dict[str, Kappa]
    pairs: list[KappaPair]
    krippendorff_alpha: Alpha | None
    krippendorff_alpha_absent: str | None = None
    split: Listed
    all_wrong: Listed
    warnings: list[str]
    # Items of `all_wrong` that not every reviewer decided: because one abstained, or else because one
    # never judged them (a sampled reviewer). None in records written before they were counted.
    all_wrong_abstained: int | None = None
    all_wrong_unjudged: int | None = None


class PerItemCounts(Model):
    mean: float | None
    min: int | None
    max: int | None
    counts: dict[str, int]


class AnnotatorGrade(Model):
    items: int
    ungraded: int
    over_enforcement: Rate
    leakage: Rate


class Annotators(Model):
    items: int
    judgements: int
    count: int
    gold_rule: str
    tie: str
    per_item: PerItemCounts
    contested: int
    alpha: float | None
    alpha_violating: float | None
    by_annotator: dict[str, AnnotatorGrade]


class InjectionLeakage(Rate):
    abstained: int


class AttackResult(Model):
    leakage: InjectionLeakage
    leakage_change: PairedChange


class LeakedExample(Model):
    item_id: str
    attack: str
    decision: str
    rationale: str | None = None


class Injection(Model):
    """The prompt-injection slice of one LLM reviewer; `warning` alone when nothing could be attacked."""

    items: int
    attacks: list[str] = Field(default_factory=list)
    leakage_injected: InjectionLeakage | None = None
    leakage_clean: InjectionLeakage | None = None
    by_attack: dict[str, AttackResult] = Field(default_factory=dict)
    leaked_examples: list[LeakedExample] = Field(default_factory=list)
    warning: str | None = None


class Estimate(Model):
    rate: float | None
    ci_low: float | None
    ci_high: float | None


class StratumEstimate(Model):
    share: float
    rate: float
    gold: int


class StratifiedEstimate(Estimate):
    strata: dict[str, StratumEstimate]


class PpiPrevalence(Model):
    gold_only: Rate
    prediction_powered: Estimate
    effective_gain: float | None
    gold_labels_for_same_width: int | None
    stratified: StratifiedEstimate | None = None


class PredictionPowered(Model):
    method: str
    labelled: int
    unlabelled: int
    prevalence: PpiPrevalence | None
    not_applicable: dict[str, str]
    warnings: list[str]


class LocalizedLanguage(Model):
    """Items of one language judged with its translation against the original: the paired change."""

    language: str
    translation: str  # the translation's file
    over_enforcement_change: PairedChange
    leakage_change: PairedChange


class Localized(Model):
    """A localized run: the original policy (the baseline) beside its translations (the candidate)."""

    original: str
    localized: str
    column: str  # the language slice
    translations: dict[str, str]  # language tag -> file
    reviewers: dict[str, list[LocalizedLanguage]]


class TranslationUse(Model):
    """Which translation of one policy version judged the items of which language (`localized:`)."""

    policy: str  # the version's label
    original: str  # its file: judged the languages without a translation
    column: str  # the language slice
    languages: dict[str, str]  # item language -> the translation file that judged its items
    untranslated: list[str]  # item languages judged with the original


class Baseline(Model):
    policy: str
    reviewers: dict[str, ReviewerMetrics]


class Metrics(Model):
    """What a run measured: the candidate's reviewers, the baseline's, and their paired comparison."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    policy: str
    reviewers: dict[str, ReviewerMetrics]
    baseline: Baseline | None
    comparison: dict[str, PairedComparison]
    relabel_candidates: RelabelCandidates
    agreement: dict[str, Agreement]
    annotators: Annotators | None = None
    injection: dict[str, Injection] | None = None
    prediction_powered: dict[str, PredictionPowered] | None = None
    # None in a record written before the metrics stage counted them (schema 2 files of older versions).
    errors: CandidateErrors | None = None
    localized: Localized | None = None  # judged with the translations beside the original (`localized: side_by_side`)
    translations_used: list[TranslationUse] | None = None  # policy versions that judged with translations
    drift: dict[str, CanaryDrift] | None = None  # per LLM reviewer, when the experiment names `canaries:`

    def section(self, policy: str) -> dict[str, ReviewerMetrics]:
        """The reviewers' metrics under one policy version (candidate or baseline); empty for another."""
        if policy == self.policy:
            return self.reviewers
        if self.baseline is not None and policy == self.baseline.policy:
            return self.baseline.reviewers
        return {}


class MetricsFile(Metrics):
    """metrics.json: the metrics with the run's name, completeness and usage beside them."""

    schema_version: int
    name: str
    incomplete: bool
    usage: dict[str, Usage]

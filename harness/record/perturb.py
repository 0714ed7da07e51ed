"""perturb.json: how much a reviewer's rates move under meaning-preserving rewrites of the policy."""

from __future__ import annotations

from harness.record.metrics import PairedChange, Rate
from harness.record.usage import Model, Usage

PERTURB_JSON = "perturb.json"
PERTURB_SCHEMA_VERSION = 1


class VariantInfo(Model):
    """One variant of the policy: how it was made, and where its text was written."""

    name: str
    kind: str  # reorder | plain | renamed | paraphrase
    section: str | None = None  # the section a paraphrase rewrote
    sha256: str
    file: str  # the variant's text, relative to the output folder


class RefusedVariant(Model):
    """A variant that was not judged: a paraphrase `lint` refused, or no reordering the policy allows."""

    name: str
    reason: str


class VariantResult(Model):
    """One reviewer under one variant, against the original on the same items."""

    variant: str
    over_enforcement: Rate
    leakage: Rate
    over_enforcement_change: PairedChange
    leakage_change: PairedChange
    accuracy_mcnemar_p: float  # exact McNemar of right/wrong against the original
    p_holm: float | None  # the McNemar p, Holm-adjusted over this reviewer's variants
    flipped: int
    flipped_item_ids: list[str]


class Spread(Model):
    """Range of a rate across the original and every variant (max - min), with where it lies."""

    min: float | None
    max: float | None
    range: float | None
    lowest: str | None  # the variant (or 'original') with the lowest rate
    highest: str | None


class SectionEffect(Model):
    """How much the variants that rewrote one section moved the reviewer (paraphrases, reorderings)."""

    section: str
    variants: list[str]
    flipped: int
    max_abs_change: float  # the largest |change| of over-enforcement or leakage among them


class ReviewerPerturbation(Model):
    reviewer: str
    items: int  # items decided under the original
    original_over_enforcement: Rate
    original_leakage: Rate
    variants: list[VariantResult]
    over_enforcement_spread: Spread
    leakage_spread: Spread
    flip_share: Rate  # items whose decision differs from the original under at least one variant
    flipped_item_ids: list[str]
    sections: list[SectionEffect]  # most moving first


class PerturbResult(Model):
    """perturb.json."""

    schema_version: int = PERTURB_SCHEMA_VERSION
    experiment: str
    policy: str
    created_at: str
    items: int
    variants: list[VariantInfo]
    refused: list[RefusedVariant]
    reviewers: dict[str, ReviewerPerturbation]
    forecast_usd: float | None  # `estimate`'s most the judgements could cost, before anything was sent
    usage: dict[str, Usage]
    incomplete: bool = False
    incomplete_reason: str = ""

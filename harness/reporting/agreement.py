"""Agreement as metrics.json records it: Cohen's kappa with gold and between reviewers, Krippendorff's alpha."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record.metrics import Kappa, Metrics
from harness.reporting.fmt import number, percent, short

GOLD = "gold"


@dataclass(frozen=True)
class KappaRow:
    a: str
    b: str
    kappa: float | None
    agreement: str
    n: int

    @property
    def label(self) -> str:
        return f"{self.a} vs {self.b}"


@dataclass(frozen=True)
class AgreementView:
    with_gold: list[KappaRow]
    pairs: list[KappaRow]
    alpha: float | None
    alpha_text: str
    split: int
    warnings: list[str]

    @property
    def rows(self) -> list[KappaRow]:
        return [*self.with_gold, *self.pairs]


def agreement_view(metrics: Metrics, candidate: str) -> AgreementView | None:
    """The candidate policy's agreement block; None when no item with known gold was judged."""
    block = metrics.agreement.get(candidate)
    if block is None:
        return None
    with_gold = [_row(name, GOLD, k) for name, k in block.with_gold.items()]
    pairs = [_row(p.a, p.b, p) for p in block.pairs]
    alpha = block.krippendorff_alpha
    value = number(alpha.alpha) if alpha else None
    alpha_text = ""
    if alpha:
        alpha_text = (f"{value:.2f} over {alpha.items:,} items rated by two or more of "
                      f"{alpha.raters} reviewers" if value is not None else "undefined")
    return AgreementView(with_gold=with_gold, pairs=pairs, alpha=value, alpha_text=alpha_text,
                         split=block.split.count, warnings=list(block.warnings))


def _row(a: str, b: str, k: Kappa) -> KappaRow:
    return KappaRow(a=short(a, 40), b=short(b, 40), kappa=number(k.kappa), agreement=percent(k.agreement), n=k.n)

"""Agreement as metrics.json records it: Cohen's kappa with gold and between reviewers, Krippendorff's alpha."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def agreement_view(metrics: dict[str, Any], candidate: str) -> AgreementView | None:
    """The candidate policy's agreement block; None for runs recorded before it existed."""
    block = (metrics.get("agreement") or {}).get(candidate)
    if not block:
        return None
    with_gold = [_row(str(name), GOLD, k) for name, k in (block.get("with_gold") or {}).items()]
    pairs = [_row(str(p.get("a")), str(p.get("b")), p) for p in block.get("pairs") or []]
    alpha = block.get("krippendorff_alpha") or {}
    value = number(alpha.get("alpha"))
    alpha_text = ""
    if alpha:
        alpha_text = (f"{value:.2f} over {int(alpha.get('items') or 0):,} items rated by two or more of "
                      f"{int(alpha.get('raters') or 0)} reviewers" if value is not None else "undefined")
    return AgreementView(with_gold=with_gold, pairs=pairs, alpha=value, alpha_text=alpha_text,
                         split=int((block.get("split") or {}).get("count") or 0),
                         warnings=[str(w) for w in block.get("warnings") or []])


def _row(a: str, b: str, k: dict[str, Any]) -> KappaRow:
    return KappaRow(a=short(a, 40), b=short(b, 40), kappa=number(k.get("kappa")),
                    agreement=percent(k.get("agreement")), n=int(k.get("n") or 0))

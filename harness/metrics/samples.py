"""Repeated samples of one judgement: majority decision per item and how stable it is."""

from __future__ import annotations

import pandas as pd

from harness.record.metrics import Stability
from harness.verdicts import ABSTAINED, AbstainKind

KEYS = ["policy", "reviewer", "item_id"]


def majority(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per item: the majority decision over samples; a tie is an abstention."""
    if verdicts.empty or int(verdicts["sample"].max()) == 0:
        return verdicts
    first = verdicts[verdicts["sample"] == 0].set_index(KEYS)
    counts = verdicts.groupby([*KEYS, "decision"]).size().unstack(fill_value=0)
    top = counts.max(axis=1)
    winners = counts.idxmax(axis=1)
    tied = (counts.eq(top, axis=0)).sum(axis=1) > 1
    out = first.copy()
    out["decision"] = winners.where(~tied, ABSTAINED).reindex(out.index)
    ties = tied.reindex(out.index).fillna(False).to_numpy()
    out.loc[ties, "abstain_reason"] = "samples split evenly"
    if "abstain_kind" in out:
        out.loc[ties, "abstain_kind"] = AbstainKind.TIED.value
    out["score"] = verdicts.groupby(KEYS)["score"].mean().reindex(out.index)
    return out.reset_index()[verdicts.columns]


def stability(verdicts: pd.DataFrame) -> Stability | None:
    """Per reviewer x policy: mean agreement with the item's majority and the unstable-item share."""
    if verdicts.empty or int(verdicts["sample"].max()) == 0:
        return None
    counts = verdicts.groupby([*KEYS, "decision"]).size().unstack(fill_value=0)
    totals = counts.sum(axis=1)
    agreement = counts.max(axis=1) / totals
    unstable = (counts.gt(0).sum(axis=1) > 1)
    return Stability(samples=int(verdicts["sample"].max()) + 1, mean_agreement=float(agreement.mean()),
                     unstable_items=int(unstable.sum()), unstable_share=float(unstable.mean()),
                     unstable_item_ids=[k[2] for k in unstable[unstable].index[:200]])

"""The dev / held-out split of `revise`, of the threshold analysis and of the cascade designs of `impact`:
made before the author model sees any error, so a revision is judged on items it was not written from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.errors import HarnessError


@dataclass(frozen=True)
class Split:
    dev: list[str]
    holdout: list[str]
    seed: int
    holdout_share: float
    strata: list[str]  # the columns stratified by: gold, then the experiment's first slice (if any)


def split_items(items: pd.DataFrame, *, holdout: float, seed: int, slice_column: str | None = None,
                id_column: str = "item_id", gold_column: str = "gold") -> Split:
    """Seeded split stratified by gold label and by `slice_column`: in every stratum the held-out
    part gets round(share x size) items, and at least one of any stratum of two or more, so each
    gold label and slice value is tested on items the author never saw."""
    if not 0 < holdout < 1:
        raise HarnessError(f"The 'holdout' share of the author section must be a number strictly between 0 and 1. "
                           f"Got {holdout} instead.")
    strata = [gold_column, *([slice_column] if slice_column else [])]
    rng = np.random.default_rng(seed)
    held: list[str] = []
    keys = items[strata].astype(str).agg("\x1f".join, axis=1)
    for key in sorted(keys.unique()):
        ids = sorted(items.loc[keys == key, id_column].astype(str))
        n = len(ids)
        take = min(n - 1, max(1, round(n * holdout))) if n >= 2 else 0
        held += [ids[i] for i in rng.permutation(n)[:take]]
    held_set = set(held)
    dev = [str(i) for i in items[id_column].astype(str) if i not in held_set]
    return Split(dev=dev, holdout=[str(i) for i in items[id_column].astype(str) if i in held_set],
                 seed=seed, holdout_share=holdout, strata=strata)

"""The cascade block of `impact`: the run's classifier and LLM reviewers combined into enforcement
designs (harness.metrics.cascade), thresholds on the dev split of `revise`, results on held-out."""

from __future__ import annotations

import numpy as np

from harness.config.ops import Ops
from harness.metrics.cascade import Costs, Items, cheapest, compare
from harness.metrics.confusion import gold_status
from harness.metrics.samples import majority
from harness.metrics.split import split_items
from harness.record import RunRecord
from harness.record.impact import Cascade, CascadeDesign, Forecast
from harness.verdicts import ABSTAINED, ACTIONED

HOLDOUT, SEED = 0.5, 0
NOTE = ("Thresholds and bands are chosen on the dev half of the items (the split of 'revise', stratified by gold "
        "and language) and the rates reported on the held-out half. Human review is taken to reach the gold decision; "
        "an LLM abstention goes to a human where the design has one and is left out of the rates otherwise.")


def _gates(record: RunRecord) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, spec in (record.experiment.get("gates") or {}).items():
        if isinstance(spec, dict) and spec.get("max") is not None and not spec.get("category") \
                and not spec.get("slice") and name in ("over_enforcement", "leakage"):
            out[name] = float(spec["max"])
    return out


def _of(record: RunRecord, kind: str) -> str | None:
    names = [n for n, p in record.reviewers.items() if p.get("type") == kind
             and ((record.verdicts["reviewer"] == n) & (record.verdicts["policy"] == record.candidate)).any()]
    return sorted(names)[0] if names else None


def cascade(record: RunRecord, ops: Ops, language: str | None) -> Cascade | None:
    """The designs compared, when the run has an LLM reviewer (and, for most designs, a classifier)."""
    llm = _of(record, "llm")
    if llm is None:
        return None
    classifier = _of(record, "classifier")
    own = majority(record.verdicts[record.verdicts["policy"] == record.candidate])
    first = own[own["reviewer"] == llm].drop_duplicates("item_id").set_index("item_id")
    benign, violating, _ = gold_status(first.reset_index())
    table = first.loc[benign | violating].copy()
    table["violating"] = violating[benign | violating]
    clf = own[own["reviewer"] == classifier].drop_duplicates("item_id").set_index("item_id") if classifier else None
    table["classifier"] = clf["score"].reindex(table.index).astype(float) if clf is not None else np.nan
    split = split_items(table.reset_index(), holdout=HOLDOUT, seed=SEED,
                        slice_column=language if language and language in table else None)
    dev_mask = table.index.isin(split.dev)

    def items(mask: np.ndarray) -> Items:
        part = table[mask]
        decision = part["decision"].astype(str).to_numpy()
        return Items(part["violating"].to_numpy(dtype=bool), part["classifier"].to_numpy(dtype=float),
                     decision == ACTIONED.value, decision != ABSTAINED.value, part["score"].to_numpy(dtype=float))

    seconds = ops.seconds_for(None) or float(np.mean(list(ops.handling_seconds.values())))
    cost = ops.cost
    costs = Costs(llm_per_item_usd=(cost.per_1k_model_calls_usd / 1000) if cost else 0.0,
                  human_per_item_usd=seconds / 3600 * (cost.reviewer_hour_usd if cost else 0.0))
    gates = _gates(record)
    outcomes, skipped = compare(items(dev_mask), items(~dev_mask), costs, gates)
    best = cheapest(outcomes)
    return Cascade(
        classifier=classifier, llm=llm, dev_items=int(dev_mask.sum()), held_out_items=int((~dev_mask).sum()),
        split_seed=SEED, gates=gates,
        designs=[CascadeDesign(design=o.design, settings=o.settings, over_enforcement=o.over_enforcement,
                               leakage=o.leakage, human_share=Forecast(value=o.human_share[0], ci_low=o.human_share[1],
                                                                       ci_high=o.human_share[2]),
                               cost_per_1k_usd=Forecast(value=o.cost_per_1k_usd[0], ci_low=o.cost_per_1k_usd[1],
                                                        ci_high=o.cost_per_1k_usd[2]),
                               meets_gates=o.meets_gates) for o in outcomes],
        not_evaluated=skipped, cheapest=best.design if best else None, note=NOTE)


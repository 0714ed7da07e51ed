"""`score`: the same metrics and report from decisions made elsewhere (a production log, human reviewers)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from harness.labels import BENIGN
from harness.errors import HarnessError
from harness.evalset import label_key, read_table, table_sha256
from harness.metrics import compute_metrics
from harness.metrics.ppi import prediction_powered
from harness.record import RunRecord
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, VERDICT_COLUMNS

DEFAULT_BENIGN = ("benign", "0", "false", "allow")
SCORED_POLICY = "external@v1"


def score_file(path: str, *, gold: str, preds: list[str], benign: list[str] | None = None,
               slices: list[str] | None = None, id_column: str | None = None, text_column: str | None = None,
               name: str | None = None, weight: str | None = None, strata: str | None = None) -> RunRecord:
    """`weight`: a column of sampling weights (inverse inclusion probabilities) for population estimates.

    Rows with a blank gold label are left out of the gold metrics and feed the prediction-powered
    prevalence (metrics["prediction_powered"]), stratified by the `strata` column when given."""
    table = read_table(path)
    slices = slices or []
    missing = [c for c in [gold, *preds, *slices, id_column, text_column, weight, strata] if c and c not in table.columns]
    if missing:
        raise HarnessError(f"column '{missing[0]}' is not in the file (columns: "
                           f"{', '.join(map(str, table.columns[:20]))}); fix --gold/--pred/--slices/--weight.", path=path)
    benign_values = {v.strip().lower() for v in (benign or DEFAULT_BENIGN)}
    has_gold = table[gold].map(lambda v: label_key(v) is not None).to_numpy(dtype=bool)
    if not has_gold.any():
        raise HarnessError(f"no row has a gold label in column '{gold}'; at least some rows need one.", path=path)
    full, table = table, table[has_gold].reset_index(drop=True)
    items = pd.DataFrame({
        "item_id": table[id_column].astype(str) if id_column else [str(i) for i in range(len(table))],
        "text": table[text_column].astype(str) if text_column else "",
        "gold": [_gold(v, benign_values, path, row) for row, v in enumerate(table[gold])],
        "weight": _weights(table[weight], path) if weight else 1.0, "contested": False,
    })
    if items["item_id"].duplicated().any():
        raise HarnessError(f"id '{items['item_id'][items['item_id'].duplicated()].iloc[0]}' appears twice; ids must be unique.", path=path)
    for column in slices:
        items[column] = table[column].astype(str).to_numpy()
    tables = []
    for pred in preds:
        decisions = [_decision(v, benign_values) for v in table[pred]]
        frame = pd.DataFrame({"policy": SCORED_POLICY, "reviewer": pred, "item_id": items["item_id"], "sample": 0,
                              "decision": decisions, "categories": "", "rule_ids": "", "score": float("nan"),
                              "confidence": float("nan"), "rationale": "",
                              "abstain_reason": [("no decision" if d == ABSTAINED else "") for d in decisions],
                              "notes": "", "reasoning": ""}, columns=VERDICT_COLUMNS)
        tables.append(frame)
    verdicts = pd.concat(tables, ignore_index=True).merge(items, on="item_id", how="left")
    categories = sorted(set(items["gold"]) - {BENIGN})
    metrics = compute_metrics(verdicts, candidate=SCORED_POLICY, baseline=None, categories=categories,
                              slices=slices, gates={})
    if not has_gold.all():
        metrics.prediction_powered = {pred: _prediction_powered(full, has_gold, gold, pred, benign_values, strata)
                                         for pred in preds}
    label = name or Path(path).stem
    return RunRecord(
        name=label, experiment={"score": {"path": path, "gold": gold, "preds": preds, "benign": sorted(benign_values),
                                          "weight": weight, "strata": strata}},
        policies={SCORED_POLICY: {"id": "external", "version": 1, "title": "Decisions made elsewhere", "sha256": "",
                                  "path": "", "categories": [{"id": c, "name": c} for c in categories], "rules": [],
                                  "text": ""}},
        candidate=SCORED_POLICY, baseline=None,
        evalset={"name": label, "source": path, "sha256": table_sha256(items, slices), "items": len(items),
                 "slices": slices, "license": None, "label_counts": items["gold"].value_counts().to_dict()},
        reviewers={p: {"type": "external", "column": p, "reads_policy": False} for p in preds}, verdicts=verdicts, metrics=metrics,
        items=items, created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def _prediction_powered(table: pd.DataFrame, has_gold: np.ndarray, gold: str, pred: str, benign: set[str],
                        strata: str | None) -> dict[str, object]:
    decided = np.array([_decision(v, benign) != ABSTAINED for v in table[pred]], dtype=bool)
    violating = np.array([g and _gold(v, benign, "", 0) != BENIGN for v, g in zip(table[gold], has_gold)], dtype=bool)
    actioned = np.array([_decision(v, benign) == ACTIONED for v in table[pred]], dtype=bool)
    out = prediction_powered(violating[decided], has_gold[decided], actioned[decided],
                             table[strata].astype(str).to_numpy()[decided] if strata else None)
    if not decided.all():
        out["warnings"].append(f"{int((~decided).sum())} rows where {pred} made no decision are left out "
                               "(taken to be missing at random)")
    return out


def _weights(raw: pd.Series, path: str) -> list[float]:
    weights = pd.to_numeric(raw, errors="coerce")
    bad = weights.isna() | ~(weights >= 0) | (weights == float("inf"))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise HarnessError(f"row {row + 1} has weight '{raw.iloc[row]}'; weights must be numbers >= 0.", path=path)
    return weights.astype(float).tolist()


def _gold(value: object, benign: set[str], path: str, row: int) -> str:
    text = label_key(value)
    if text is None:
        raise HarnessError(f"row {row + 1} has no gold label; fill it in or drop the row.", path=path)
    return BENIGN if text.lower() in benign else text


def _decision(value: object, benign: set[str]) -> str:
    text = label_key(value)
    if text is None:
        return ABSTAINED
    return ALLOWED if text.lower() in benign else ACTIONED

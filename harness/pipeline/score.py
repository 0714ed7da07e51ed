"""`score`: the same metrics and report from decisions made elsewhere (a production log, human reviewers)."""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import pandas as pd

from harness.config import StrataSpec
from harness.errors import HarnessError
from harness.evalset import table_sha256
from harness.labels import BENIGN
from harness.metrics import compute_metrics
from harness.metrics.counts import COUNT
from harness.metrics.ppi import prediction_powered
from harness.pipeline.engines import DEFAULT_SPARK_MASTER, open_source
from harness.pipeline.prediction_log import NO_GOLD, LogColumns, read_collapsed
from harness.record import RunRecord
from harness.record.header import EvalSetSummary, ExternalParams, PolicyCategory, PolicySummary
from harness.record.metrics import PredictionPowered
from harness.verdicts import ABSTAINED, ACTIONED, AbstainKind, decision_table

DEFAULT_BENIGN = ("benign", "0", "false", "allow")
SCORED_POLICY = "external@v1"
# A log of up to this many rows keeps one record row per item (every item in the report);
# a longer one keeps its collapsed table.
KEEP_ITEMS = 100_000


def score_file(path: str, *, gold: str, preds: list[str], benign: list[str] | None = None,
               slices: list[str] | None = None, id_column: str | None = None, text_column: str | None = None,
               name: str | None = None, weight: str | None = None, strata: str | None = None,
               keep_items: int | None = KEEP_ITEMS, table: str | None = None, engine: str = "duckdb",
               spark_master: str = DEFAULT_SPARK_MASTER) -> RunRecord:
    """`weight`: a column of sampling weights (inverse inclusion probabilities) for population estimates.

    Rows with a blank gold label are left out of the gold metrics and feed the prediction-powered
    prevalence (metrics["prediction_powered"]), stratified by the `strata` column when given.

    `path` is a file, glob or folder read by `engine` (DuckDB or Spark), or a connection URL with `table`
    (harness.pipeline.engines). The engine collapses the log to counts (harness.pipeline.prediction_log): a log of
    up to `keep_items` rows keeps one row per item in the record; a longer one keeps the collapsed table
    (docs/scoring.md)."""
    slices = slices or []
    columns = LogColumns(gold=gold, preds=preds, slices=slices, id=id_column, text=text_column, weight=weight,
                         strata=strata)
    benign_values = {v.strip().lower() for v in (benign or DEFAULT_BENIGN)}
    log = open_source(path, columns.needed(), table=table, engine=engine, spark_master=spark_master)
    try:
        collapsed = read_collapsed(log, columns, benign_values, source=path, keep_items=keep_items)
    finally:
        with contextlib.suppress(Exception):  # an engine that died mid-query cannot be closed; its error is the one
            log.close()
    counted = collapsed.table
    has_gold = counted["gold"].to_numpy() != NO_GOLD
    if not has_gold.any():
        raise HarnessError(f"no row has a gold label in column '{gold}'; at least some rows need one.", path=path)
    # With weights, the strata travel beside the verdicts so population estimates are stratified by them.
    beside = [strata] if weight and strata and strata not in slices else []
    items = counted.loc[has_gold, ["item_id", "text", "gold", "weight", *slices, *beside, COUNT]].reset_index(drop=True)
    items.insert(4, "contested", False)
    tables = []
    for pred in preds:
        decisions = counted.loc[has_gold, pred].to_numpy()
        tables.append(decision_table(items["item_id"].astype(str).tolist(), [str(d) for d in decisions],
                                     policy=SCORED_POLICY, reviewer=pred, abstain_kind=AbstainKind.NO_DECISION,
                                     abstain_reason="no decision"))
    verdicts = pd.concat(tables, ignore_index=True).merge(items, on="item_id", how="left")
    categories = sorted(set(items["gold"]) - {BENIGN})
    metrics = compute_metrics(verdicts, candidate=SCORED_POLICY, baseline=None, categories=categories,
                              slices=slices, gates={}, strata=weighted_strata(items, strata) if weight else None)
    if not has_gold.all():
        metrics.prediction_powered = {pred: _prediction_powered(counted, has_gold, pred, strata) for pred in preds}
    label = name or log.label
    counts = items.groupby("gold", sort=False)[COUNT].sum().sort_values(ascending=False, kind="stable")
    return RunRecord(
        name=label, experiment={"score": {"path": path, "gold": gold, "preds": preds, "benign": sorted(benign_values),
                                          "weight": weight, "strata": strata, "rows": collapsed.rows,
                                          "combinations": collapsed.combinations}},
        policies={SCORED_POLICY: PolicySummary(id="external", version=1, title="Decisions made elsewhere", sha256="",
                                               path="", categories=[PolicyCategory(id=c, name=c) for c in categories],
                                               rules=[], text="")},
        candidate=SCORED_POLICY, baseline=None,
        evalset=EvalSetSummary(name=label, source=path, sha256=table_sha256(items, slices),
                               items=int(items[COUNT].sum()), slices=slices, license=None,
                               label_counts={str(k): int(v) for k, v in counts.items()}),
        reviewers={p: ExternalParams(column=p) for p in preds}, verdicts=verdicts, metrics=metrics,
        items=items, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def weighted_strata(items: pd.DataFrame, column: str | None) -> StrataSpec | None:
    """The strata column as population strata whose sizes are the weights' own totals, so the
    weights are kept as given and the population interval is stratified by the column."""
    if column is None:
        return None
    totals = (pd.to_numeric(items["weight"], errors="coerce").fillna(0.0) * items[COUNT]).groupby(
        items[column].astype(str), sort=True).sum()
    sizes = {str(k): float(v) for k, v in totals.items() if v > 0}
    return StrataSpec(column=column, sizes=sizes) if sizes else None


def _prediction_powered(table: pd.DataFrame, has_gold: np.ndarray, pred: str, strata: str | None) -> PredictionPowered:
    decision = table[pred].to_numpy()
    decided = decision != ABSTAINED
    count = table[COUNT].to_numpy()
    codes, names = pd.factorize(table[strata], sort=True) if strata else (None, None)
    out = prediction_powered((has_gold & (table["gold"].to_numpy() != BENIGN))[decided], has_gold[decided],
                             (decision == ACTIONED)[decided], codes[decided] if codes is not None else None,
                             strata_names=[str(n) for n in names] if names is not None else None, count=count[decided])
    if not decided.all():
        out.warnings.append(f"{int(count[~decided].sum())} rows where {pred} made no decision are left out "
                            "(taken to be missing at random)")
    return out



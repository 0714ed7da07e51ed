"""The candidate's mistakes item by item, counted once in the metrics stage so the report only
renders them: confusion counts, the most instructive exemplars, and failure clusters."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

import numpy as np
import pandas as pd

from harness.labels import BENIGN, UNKNOWN
from harness.metrics.counts import COUNT, multiplicity, tally
from harness.metrics.diagnosis import RunView, diagnose
from harness.record.diagnosis import Diagnosis
from harness.record.errors import CandidateErrors, Confusion, DecisionCounts, ErrorExemplar, ExemplarSet
from harness.verdicts import ACTIONED, ALLOWED, DECISIONS, as_list

TOTAL_LIMIT = 40  # exemplars over all reviewers and both kinds
PER_VALUE = 3
MAX_ROWS_TO_CLUSTER = 5_000  # beyond this, text clustering costs more than the metrics stage should
CLUSTER_COLUMNS = {"policy", "reviewer", "item_id", "decision", "gold", "rule_ids", "text"}


@dataclass(frozen=True)
class _Kind:
    name: Literal["false positive", "false negative"]
    gold_benign: bool
    decision: str


KINDS = (_Kind("false positive", True, ACTIONED), _Kind("false negative", False, ALLOWED))


def candidate_errors(verdicts: pd.DataFrame, per_item: pd.DataFrame, *, name: str, candidate: str,
                     slices: list[str]) -> CandidateErrors:
    """`verdicts` every sample, `per_item` their majority per item x reviewer x policy."""
    known = per_item[(per_item["policy"] == candidate) & (per_item["gold"] != UNKNOWN)]
    reviewers = [str(r) for r in known["reviewer"].unique()]
    budget = max(2, TOTAL_LIMIT // (2 * len(reviewers))) if reviewers else 0
    out = {}
    for reviewer in reviewers:
        frame = known[known["reviewer"] == reviewer]
        out[reviewer] = {"confusion": confusion(frame),
                         "exemplars": [exemplar_set(frame, kind, slices, budget) for kind in KINDS]}
    return CandidateErrors.model_validate({"reviewers": out, "diagnosis": clusters(verdicts, name, candidate, slices)})


def confusion(frame: pd.DataFrame) -> Confusion:
    """Rows gold benign / violating, columns the decisions; a collapsed log's row counts for several items."""
    benign = (frame["gold"] == BENIGN).to_numpy()
    decision = frame["decision"].to_numpy()
    count = multiplicity(frame)
    rows = [DecisionCounts(**{d: tally((decision == d) & row, count) for d in DECISIONS}) for row in (benign, ~benign)]
    return Confusion(benign=rows[0], violating=rows[1])


def exemplar_set(frame: pd.DataFrame, kind: _Kind, slices: list[str], budget: int) -> ExemplarSet:
    benign = frame["gold"] == BENIGN
    mask = (benign if kind.gold_benign else ~benign) & (frame["decision"] == kind.decision)
    errors = frame[mask]
    chosen = _pick(errors, kind.name, slices, budget)
    # A collapsed log's row stands for several items: the total counts items, as the rates do.
    return ExemplarSet(kind=kind.name, total=tally(mask.to_numpy(), multiplicity(frame)),
                       items=[_exemplar(row, slices) for _, row in chosen.iterrows()])


def clusters(verdicts: pd.DataFrame, name: str, candidate: str, slices: list[str]) -> Diagnosis | None:
    """The candidate's failure clusters, when the run is small enough to cluster here. A collapsed
    prediction log is not clustered: its rows stand for several items, and clusters count rows."""
    if verdicts.empty or not CLUSTER_COLUMNS <= set(verdicts.columns) or COUNT in verdicts:
        return None
    rows = verdicts[verdicts["policy"] == candidate]
    if len(rows) > MAX_ROWS_TO_CLUSTER:
        return None
    return diagnose(RunView(name=name, out_dir="", verdicts=rows.reset_index(drop=True), candidate=candidate,
                            baseline=None, slices=slices))


def _pick(errors: pd.DataFrame, kind: str, slices: list[str], budget: int) -> pd.DataFrame:
    """The most confident mistakes first (they teach most), spread over the values of the first slice."""
    if errors.empty:
        return errors
    score, confidence = _numeric(errors, "score"), _numeric(errors, "confidence")
    wrongness = (score if kind == "false positive" else 1 - score).fillna(confidence).fillna(0.0)
    ids = errors["item_id"].astype(str)
    keys = id_order_keys(ids)
    ranked = (errors.assign(_wrong=wrongness.to_numpy(), **keys)
              .sort_values(["_wrong", *keys, "item_id"], ascending=[False, True, True, True], kind="stable")
              .drop(columns=list(keys)))
    if not slices or slices[0] not in ranked:
        return ranked.head(budget)
    groups = [g.head(PER_VALUE) for _, g in ranked.groupby(slices[0], sort=True, dropna=False)]
    # Round-robin over slice values so one large slice does not crowd out the rest; leftover
    # budget goes to the next most confident mistakes, whatever their slice.
    order = [row for batch in zip_longest(*(list(g.index) for g in groups)) for row in batch if row is not None]
    order = order[:budget]
    order += [row for row in ranked.index if row not in set(order)][: budget - len(order)]
    return ranked.loc[order]


# Ids in natural order: digit-only ids first, by length then text (so row numbers and numeric ids sort as
# numbers: 9 before 10), then the rest by text. A log without an id column names its items by row number, so
# there id order is row order, which the engine can rank on a prefix of the log (harness.pipeline.prediction_log).
DIGITS = r"[0-9]+"


def id_order_keys(ids: pd.Series) -> dict[str, pd.Series]:
    """The sort keys (besides the id itself) that put `ids` in natural order."""
    digits = ids.str.fullmatch(DIGITS).fillna(False).astype(bool)
    return {"_id_text": ~digits, "_id_length": ids.str.len().where(digits, 0)}


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(float("nan"), index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def _exemplar(row: pd.Series, slices: list[str]) -> ErrorExemplar:
    score = pd.to_numeric(pd.Series([row.get("score")]), errors="coerce").iloc[0]
    contested = row.get("contested")
    return ErrorExemplar(
        item_id=str(row.get("item_id")), text=_text(row.get("text")), gold=str(row.get("gold")),
        decision=str(row.get("decision")), score=float(score) if np.isfinite(score) else None,
        rationale=_text(row.get("rationale")), reasoning=_text(row.get("reasoning")),
        rule_ids=as_list(row.get("rule_ids")),
        slices={c: str(row.get(c)) for c in slices if c in row.index},
        contested=bool(contested) if not _missing(contested) else False)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA


def _text(value: object) -> str | None:
    return None if _missing(value) else str(value)

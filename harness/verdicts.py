"""Verdicts: one row per item x reviewer x policy version (x sample).

The verdict is typed from the first stage: `Decision` and `AbstainKind` are enums, `categories` and
`rule_ids` are lists (Arrow list<string> in verdicts.parquet). `VERDICT_COLUMNS` is the one column
set of the table; `read_verdicts`/`write_verdicts` are the one place it meets a file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa


class Decision(StrEnum):
    ACTIONED = "actioned"
    ALLOWED = "allowed"
    ABSTAINED = "abstained"


ACTIONED, ALLOWED, ABSTAINED = Decision.ACTIONED, Decision.ALLOWED, Decision.ABSTAINED
DECISIONS = tuple(Decision)


class AbstainKind(StrEnum):
    """Why a verdict is an abstention. The first six are answers that came back but did not become a
    verdict (they count against the parse rate); the rest are no answer at all."""

    CUT_OFF = "cut_off"  # the answer stopped at the token limit (finish_reason 'length')
    EMPTY = "empty"
    REFUSAL = "refusal"
    UNPARSEABLE = "unparseable"  # no JSON object in the answer
    NO_VERDICT = "no_verdict"  # JSON without a true/false 'violation'
    CONFLICTING = "conflicting"  # verdict objects in one answer that disagree (llm_verdict._verdict_object)
    PROVIDER_ERROR = "provider_error"  # no answer: provider error, timeout, rate limit, failed batch line
    TIED = "tied"  # repeated samples split evenly (metrics/samples.py)
    NO_DECISION = "no_decision"  # an imported decision log row without a decision (pipeline/score.py)

    @property
    def label(self) -> str:
        """The kind as the report names it."""
        return _LABELS[self]

    @property
    def answered(self) -> bool:
        """An answer came back from the model (it failed to become a verdict)."""
        return self in _ANSWERED


_LABELS = {
    AbstainKind.CUT_OFF: "cut off at the token limit", AbstainKind.EMPTY: "empty answer",
    AbstainKind.REFUSAL: "refusal", AbstainKind.UNPARSEABLE: "unparseable answer",
    AbstainKind.NO_VERDICT: "no verdict in the answer", AbstainKind.CONFLICTING: "conflicting verdicts in the answer",
    AbstainKind.PROVIDER_ERROR: "no answer (provider error or timeout)",
    AbstainKind.TIED: "samples split evenly", AbstainKind.NO_DECISION: "no decision in the log",
}
_ANSWERED = frozenset({AbstainKind.CUT_OFF, AbstainKind.EMPTY, AbstainKind.REFUSAL, AbstainKind.UNPARSEABLE,
                       AbstainKind.NO_VERDICT, AbstainKind.CONFLICTING})

LIST_COLUMNS = ("categories", "rule_ids")
VERDICT_COLUMNS = [
    "policy", "reviewer", "item_id", "sample", "decision", "categories", "rule_ids",
    "score", "confidence", "rationale", "abstain_kind", "abstain_reason", "notes", "reasoning", "score_source",
]
# Per-call usage of an LLM verdict (the call that paid for it, also when it came from the cache): float columns,
# NaN where unknown; a table has them only when some verdict knows them (a classifier's never does).
USAGE_COLUMNS = ("prompt_tokens", "completion_tokens", "latency_ms")
# Where an LLM verdict's `score` (P(violation)) came from; blank when it has none (or is a classifier's).
SCORE_SOURCES = ("logprobs", "confidence")


@dataclass
class Verdict:
    item_id: str
    decision: Decision
    categories: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    score: float | None = None
    confidence: float | None = None
    rationale: str = ""
    abstain_kind: AbstainKind | None = None  # set exactly when decision is ABSTAINED
    abstain_reason: str = ""  # the free text beside the kind: the error, or the start of the answer
    notes: str = ""
    sample: int = 0
    reasoning: str = ""  # a reasoning model's reasoning before its answer, clipped (llm_verdict.REASONING_MAX_CHARS)
    score_source: str = ""  # one of SCORE_SOURCES for an LLM verdict's score; blank otherwise
    prompt_tokens: int | None = None  # USAGE_COLUMNS: what the provider reported for the call, None if unknown
    completion_tokens: int | None = None
    latency_ms: float | None = None  # the call's wall time as the reviewer waited for it, retries included

    @classmethod
    def abstain(cls, item_id: str, kind: AbstainKind, detail: str, sample: int = 0, reasoning: str = "") -> Verdict:
        """An abstention of `kind`; `detail` is its reason as the user reads it."""
        return cls(item_id=item_id, decision=ABSTAINED, abstain_kind=kind, abstain_reason=detail, sample=sample,
                   reasoning=reasoning)


def verdict_table(verdicts: list[Verdict], *, policy: str, reviewer: str) -> pd.DataFrame:
    """Verdicts as the canonical table (VERDICT_COLUMNS); categories and rule_ids stay lists."""
    columns: dict[str, list[object]] = {
        "policy": [policy] * len(verdicts),
        "reviewer": [reviewer] * len(verdicts),
        "item_id": [v.item_id for v in verdicts],
        "sample": [v.sample for v in verdicts],
        "decision": [Decision(v.decision).value for v in verdicts],
        "categories": [list(v.categories) for v in verdicts],
        "rule_ids": [list(v.rule_ids) for v in verdicts],
        "score": [v.score for v in verdicts],
        "confidence": [v.confidence for v in verdicts],
        "rationale": [_storable(v.rationale) for v in verdicts],
        "abstain_kind": [v.abstain_kind.value if v.abstain_kind else "" for v in verdicts],
        "abstain_reason": [_storable(v.abstain_reason) for v in verdicts],
        "notes": [_storable(v.notes) for v in verdicts],
        "reasoning": [_storable(v.reasoning) for v in verdicts],
        "score_source": [v.score_source for v in verdicts],
    }
    table = pd.DataFrame(columns, columns=VERDICT_COLUMNS)
    for name in LIST_COLUMNS:  # a DataFrame of no rows does not keep the column's object dtype
        table[name] = table[name].astype(object)
    table = table.astype({"score": float, "confidence": float, "sample": int})
    if any(getattr(v, name) is not None for v in verdicts for name in USAGE_COLUMNS):
        for name in USAGE_COLUMNS:
            table[name] = pd.Series([getattr(v, name) for v in verdicts], index=table.index, dtype=float)
    return table


def decision_table(item_ids: Sequence[str], decisions: Sequence[str], *, policy: str, reviewer: str,
                   abstain_kind: AbstainKind, abstain_reason: str) -> pd.DataFrame:
    """The canonical table of bare decisions (an imported log: no score, rationale or cited rules),
    built column by column: `verdict_table` of one `Verdict` per row costs seconds per million rows.
    Every abstention is of `abstain_kind`, with `abstain_reason` as its text."""
    values = pd.Series(decisions, dtype=object)
    unknown = set(values.unique()) - {d.value for d in Decision}
    if unknown:
        raise ValueError(f"not a decision: {sorted(map(str, unknown))[0]!r}")
    abstained = (values == ABSTAINED.value).to_numpy()
    n = len(values)
    table = pd.DataFrame({
        "policy": [policy] * n, "reviewer": [reviewer] * n, "item_id": list(item_ids), "sample": 0,
        "decision": values.to_numpy(), "categories": [[] for _ in range(n)], "rule_ids": [[] for _ in range(n)],
        "score": float("nan"), "confidence": float("nan"), "rationale": "",
        "abstain_kind": pd.Series(abstained).map({True: abstain_kind.value, False: ""}).to_numpy(),
        "abstain_reason": pd.Series(abstained).map({True: abstain_reason, False: ""}).to_numpy(),
        "notes": "", "reasoning": "", "score_source": "",
    }, index=pd.RangeIndex(n), columns=VERDICT_COLUMNS)
    for name in LIST_COLUMNS:
        table[name] = table[name].astype(object)
    return table.astype({"score": float, "confidence": float, "sample": int})


def _storable(text: str) -> str:
    """Model text can hold lone surrogates (from JSON escapes such as \\ud800), which Parquet refuses."""
    return text.encode("utf-8", "replace").decode("utf-8")


def join_list(values: Iterable[str]) -> str:
    """A list cell (categories, rule_ids) as text, for CSV and Markdown outputs: ids joined by ';'."""
    return ";".join(values)


def split_list(text: object) -> list[str]:
    """The text form of `join_list` read back (a CSV cell, an answer key); blank is the empty list."""
    if text is None or (isinstance(text, float) and text != text):
        return []
    return [part for part in str(text).split(";") if part]


def as_list(value: object) -> list[str]:
    """One cell of a list column as a list of str: a list, an Arrow array read back, or missing (a row
    a merge added) as the empty list."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return [str(v) for v in value]  # type: ignore[attr-defined]
    return []


def write_verdicts(frame: pd.DataFrame, path: str | Path) -> None:
    """A verdict table (with any extra columns) as Parquet; categories and rule_ids as list<string> even
    when every list is empty (Arrow would infer list<null>)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    list_type = pa.list_(pa.string())
    for name in LIST_COLUMNS:
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, pa.field(name, list_type), table.column(name).cast(list_type))
    pq.write_table(table, path)


def read_verdicts(path: str | Path) -> pd.DataFrame:
    """A verdicts.parquet as the canonical table, also one written before the verdict was typed."""
    import pyarrow.parquet as pq

    return _from_arrow(pq.read_table(path))


def _from_arrow(table: pa.Table) -> pd.DataFrame:
    lists = {name: table.column(name).to_pylist() for name in LIST_COLUMNS if name in table.column_names
             and _is_list(table.schema.field(name).type)}
    frame = table.drop_columns(list(lists)).to_pandas()
    for name, values in lists.items():
        frame.insert(table.column_names.index(name), name, pd.Series(values, index=frame.index, dtype=object))
    return upgrade_verdicts(frame)


def _is_list(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_list(kind) or pa.types.is_large_list(kind))


def upgrade_verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Compatibility shim for verdicts.parquet written before the verdict was typed: `categories` and
    `rule_ids` as ';'-joined strings become lists, and a missing `abstain_kind` is derived from the
    reason's opening words (the only place that prefix rule survives); a missing `score_source` is blank.
    A current table is unchanged."""
    for name in LIST_COLUMNS:
        if name in frame and frame[name].map(lambda v: isinstance(v, str)).any():
            frame[name] = pd.Series([split_list(v) if not isinstance(v, list) else v for v in frame[name]],
                                    index=frame.index, dtype=object)
    if "abstain_kind" not in frame and "decision" in frame:
        reasons = frame["abstain_reason"] if "abstain_reason" in frame else pd.Series("", index=frame.index)
        kinds = [_old_kind(str(r)).value if d == ABSTAINED else "" for d, r in zip(frame["decision"], reasons.fillna(""), strict=True)]
        at = frame.columns.get_loc("abstain_reason") if "abstain_reason" in frame else len(frame.columns)
        frame.insert(int(at), "abstain_kind", kinds)  # type: ignore[arg-type]
    if "score_source" not in frame and "decision" in frame:
        # Written before LLM scores had a source: an LLM's score was then its stated confidence (a
        # classifier's score has no confidence beside it).
        stated = frame["confidence"].notna() & frame["score"].notna() if {"score", "confidence"} <= set(frame) else None
        frame["score_source"] = "" if stated is None else stated.map({True: "confidence", False: ""})
    return frame


# Old files only: the reason's opening words as reviewers/llm_verdict.py wrote them before the kind
# had its own column; any other reason was an answer that never came.
_OLD_PREFIXES = (("answer cut off", AbstainKind.CUT_OFF), ("empty answer", AbstainKind.EMPTY),
                 ("refusal", AbstainKind.REFUSAL), ("unparseable answer", AbstainKind.UNPARSEABLE),
                 ("answer has no true/false", AbstainKind.NO_VERDICT), ("samples split evenly", AbstainKind.TIED),
                 ("no decision", AbstainKind.NO_DECISION))


def _old_kind(reason: str) -> AbstainKind:
    return next((kind for prefix, kind in _OLD_PREFIXES if reason.startswith(prefix)), AbstainKind.PROVIDER_ERROR)

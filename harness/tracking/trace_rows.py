"""The rows the trace writer reads, streamed from the run's Parquet files a chunk at a time.

The writer's memory must not grow with the run: a 100,000-item run has 100,000 texts, verdicts and
rationales. Only one reviewer's item ids and decisions are read whole (for the majority over repeated
samples and the `sample:` choice, a few dozen bytes an item); the full rows (text, rationale, reasoning,
slices) come `chunk` at a time, in the file's order, which is the same on every read: a writer that
starts over skips the rows it already wrote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.verdicts import ABSTAINED, upgrade_verdicts

CHUNK_ITEMS = 500  # traces built, sent and counted in traces.json at a time
_LIGHT = ("policy", "reviewer", "item_id", "decision", "sample")


@dataclass(frozen=True)
class TraceChoice:
    """Which items get a trace: every item, none, or a sample of `sample` items (the same items in every
    run of the set: chosen by a hash of the item id, so two policy versions' traces pair)."""

    traces: str = "all"
    sample: int | None = None

    @classmethod
    def of(cls, setting: object) -> TraceChoice:
        """From the experiment's `tracking.traces` as record.json keeps it: 'all', 'none' or {'sample': N}."""
        if isinstance(setting, dict) and isinstance(setting.get("sample"), int):
            return cls("sample", int(setting["sample"]))
        return cls("none" if setting == "none" else "all")

    def items(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` (one per item) that get a trace."""
        if self.traces == "none":
            return frame.iloc[:0]
        if self.sample is None or self.sample >= len(frame):
            return frame
        order = frame["item_id"].astype(str).map(lambda i: hashlib.sha256(i.encode("utf-8")).hexdigest())
        return frame.loc[order.sort_values(kind="stable").index[: self.sample]]


def per_item(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per item: the majority decision over repeated samples, a tie an abstention (as the metrics count)."""
    if frame.empty or "sample" not in frame or int(frame["sample"].max()) == 0:
        return frame
    counts = frame.groupby(["item_id", "decision"]).size().unstack(fill_value=0)
    top = counts.max(axis=1)
    winners = counts.idxmax(axis=1).where(counts.eq(top, axis=0).sum(axis=1) == 1, ABSTAINED.value)
    first = frame[frame["sample"] == 0].set_index("item_id")
    first["decision"] = winners.reindex(first.index)
    return first.reset_index()


@dataclass(frozen=True)
class ReviewerRows:
    """Which rows of verdicts.parquet one reviewer run's traces are built from, and their decisions."""

    path: Path
    label: str
    reviewer: str
    decisions: pd.Series  # item id -> the decision traced (the majority over samples), for the chosen items

    @property
    def total(self) -> int:
        """How many traces the reviewer run gets."""
        return len(self.decisions)


def reviewer_rows(path: Path, label: str, reviewer: str, choice: TraceChoice) -> ReviewerRows:
    """The traced items of one reviewer under one policy version, read from the light columns only."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    light = pq.read_table(path, columns=[c for c in _LIGHT if c in names],
                          filters=[("policy", "==", label), ("reviewer", "==", reviewer)]).to_pandas()
    chosen = choice.items(per_item(light))
    return ReviewerRows(path, label, reviewer, chosen.set_index("item_id")["decision"].astype(str))


def chunks(rows: ReviewerRows, *, size: int = CHUNK_ITEMS, skip: int = 0) -> Iterator[pd.DataFrame]:
    """The full verdict rows of `rows`' items, `size` at a time, with the traced decision; the first
    `skip` rows (written before) left out."""
    import pyarrow.parquet as pq

    buffer: list[pd.DataFrame] = []
    held = 0
    for batch in pq.ParquetFile(rows.path).iter_batches(batch_size=max(size, 1)):
        frame = batch.to_pandas()
        keep = (frame["policy"] == rows.label) & (frame["reviewer"] == rows.reviewer)
        if "sample" in frame:
            keep &= frame["sample"] == 0
        keep &= frame["item_id"].astype(str).isin(rows.decisions.index)
        frame = frame[keep]
        if skip:
            dropped = min(skip, len(frame))
            frame, skip = frame.iloc[dropped:], skip - dropped
        if frame.empty:
            continue
        frame = upgrade_verdicts(frame.reset_index(drop=True))
        frame["decision"] = frame["item_id"].astype(str).map(rows.decisions)
        buffer.append(frame)
        held += len(frame)
        while held >= size:
            whole = pd.concat(buffer, ignore_index=True)
            yield whole.iloc[:size]
            buffer, held = [whole.iloc[size:]], len(whole) - size
    if held:
        yield pd.concat(buffer, ignore_index=True)


def item_chunks(path: Path, *, size: int = CHUNK_ITEMS) -> Iterator[pd.DataFrame]:
    """items.parquet `size` rows at a time, each item once (the evaluation dataset's records)."""
    import pyarrow.parquet as pq

    seen: set[str] = set()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=max(size, 1)):
        frame = batch.to_pandas()
        ids = frame["item_id"].astype(str)
        fresh = ~ids.isin(seen) & ~ids.duplicated()
        seen.update(ids[fresh])
        if fresh.any():
            yield frame[fresh]

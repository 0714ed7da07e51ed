"""Eval sets: read raw tables, canonicalise them into one item table, sample them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.config import EvalSetConfig
from harness.errors import HarnessError
from harness.evalset.canonical import canonicalise, table_sha256
from harness.evalset.columns import CONTESTED, CORE_COLUMNS, GOLD, GOLD_UNKNOWN, ID, MISSING_SLICE, TEXT, WEIGHT
from harness.evalset.reading import read_table
from harness.evalset.sampling import stratified_sample
from harness.labels import BENIGN, UNKNOWN, label_key

__all__ = ["CONTESTED", "CORE_COLUMNS", "GOLD", "GOLD_UNKNOWN", "ID", "MISSING_SLICE", "TEXT", "WEIGHT", "EvalSet",
           "canonicalise", "label_key", "load_evalset", "read_table", "stratified_sample", "table_sha256"]


@dataclass
class EvalSet:
    name: str
    source: str
    items: pd.DataFrame
    slices: list[str]
    sha256: str
    license: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    label_categories: tuple[str, ...] = ()  # category ids of per-category label columns (multi-label sets)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_weights(self) -> bool:
        return bool((self.items[WEIGHT] != 1.0).any())

    def check_labels(self, category_ids: list[str], *, policy_path: str) -> None:
        """Every gold label must be a category of the policy or benign."""
        allowed = set(category_ids) | {BENIGN, UNKNOWN}
        undeclared = [c for c in self.label_categories if c not in category_ids]
        if undeclared:
            raise HarnessError(
                f"eval set '{self.name}' has a label column for category '{undeclared[0]}', which is not a "
                f"category of policy {policy_path} ({', '.join(category_ids)}); fix eval_set.columns.categories.",
                path=self.source)
        unknown = sorted({part for gold in set(self.items[GOLD]) for part in str(gold).split(";")} - allowed)
        if unknown:
            raise HarnessError(
                f"eval set '{self.name}' has gold label '{unknown[0]}', which is not a category of "
                f"policy {policy_path} ({', '.join(category_ids)}) nor '{BENIGN}'; map it in the "
                "experiment's eval_set.labels.",
                path=self.source,
            )

    def sample(self, n: int, seed: int) -> "EvalSet":
        """A seeded random sample of n items, stratified by gold label."""
        if n >= len(self.items):
            return self
        picked = stratified_sample(self.items, n, seed)
        return EvalSet(self.name, self.source, picked, self.slices, table_sha256(picked, self.slices),
                       self.license, picked[GOLD].value_counts().to_dict(), self.label_categories)


def load_evalset(config: EvalSetConfig, *, base_dir: Path = Path(".")) -> EvalSet:
    paths = [config.path] if isinstance(config.path, str) else list(config.path)
    if not paths:
        raise HarnessError("eval_set.path is empty; give a file, a list of files, or hf:<name>.")
    frames = []
    for raw in paths:
        frame = read_table(raw, fmt=config.format, base_dir=base_dir)
        if config.source_column:
            frame[config.source_column] = _source_value(raw, config.source_pattern)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    source = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    first = Path(paths[0])
    name = config.name or (paths[0][3:] if paths[0].startswith("hf:") else (first.parent.name or first.stem)
                           if first.stem in {"items", "data", "train", "test"} else first.stem)
    items, slices = canonicalise(table, config, source)
    return EvalSet(name=name, source=source, items=items, slices=slices,
                   sha256=table_sha256(items, slices), license=config.license,
                   label_counts=items[GOLD].value_counts().to_dict(),
                   label_categories=tuple(config.columns.categories or ()))


def _source_value(raw: str, pattern: str | None) -> str:
    """The source slice value of one file: its stem, or what `source_pattern` extracts from it."""
    stem = Path(raw).stem if not raw.startswith("hf:") else raw
    if pattern is None:
        return stem
    found = re.search(pattern, stem)
    if not found:
        raise HarnessError(f"file name '{stem}' does not match eval_set.source_pattern '{pattern}'; "
                           "fix the pattern or the path.", path=raw)
    return (found.group(1) if found.re.groups else found.group(0)) or stem

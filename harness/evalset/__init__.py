"""Eval sets: read raw tables, canonicalise them into one item table, sample them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.config import EvalSetConfig
from harness.errors import HarnessError, did_you_mean
from harness.evalset.annotations import Annotations
from harness.evalset.canonical import canonicalise, table_sha256, used_columns
from harness.evalset.columns import CONTESTED, CORE_COLUMNS, GOLD, GOLD_UNKNOWN, ID, MISSING_SLICE, TEXT, WEIGHT
from harness.evalset.paths import SourceFile, default_line_ids, expand, path_values
from harness.evalset.reading import Layout, read_item_lines, read_table
from harness.evalset.sampling import label_counts, stratified_sample
from harness.labels import BENIGN, UNKNOWN, label_key

__all__ = ["CONTESTED", "CORE_COLUMNS", "GOLD", "GOLD_UNKNOWN", "ID", "MISSING_SLICE", "TEXT", "WEIGHT",
           "Annotations", "EvalSet", "canonicalise", "label_key", "load_evalset", "read_table", "stratified_sample", "table_sha256"]


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
    annotations: Annotations | None = None  # raw judgements, when gold was decided from annotators

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
                f"policy {policy_path} ({', '.join(category_ids)}) nor '{BENIGN}'."
                f"{did_you_mean(unknown[0], sorted(allowed))} Fix the data, or map it in the experiment's "
                "eval_set.labels if it is a label you mean.",
                path=self.source,
            )

    def sample(self, n: int, seed: int) -> EvalSet:
        """A seeded random sample of n items, stratified by gold label."""
        if n >= len(self.items):
            return self
        picked = stratified_sample(self.items, n, seed)
        return EvalSet(self.name, self.source, picked, self.slices, table_sha256(picked, self.slices),
                       self.license, label_counts(picked), self.label_categories,
                       self.annotations.for_items(picked[ID]) if self.annotations is not None else None)


def load_evalset(config: EvalSetConfig, *, base_dir: Path = Path(".")) -> EvalSet:
    paths = [config.path] if isinstance(config.path, str) else list(config.path)
    if not paths:
        raise HarnessError("eval_set.path is empty; give a file, a list of files, or hf:<name>.")
    files = [file for raw in paths for file in expand(raw, base_dir)]
    layout = Layout(header=config.header, names=tuple(config.names) if config.names else None,
                    quoting=config.quoting, used=used_columns(config))
    frames, line_numbers = [], []
    for file in files:
        target = file.raw if file.path is None else str(file.path)
        if config.format == "lines":
            frame, numbers = read_item_lines(target, base_dir=base_dir)
            line_numbers.append(numbers)
        else:
            frame = read_table(target, fmt=config.format, base_dir=base_dir, layout=layout)
        for column, value in path_values(file, config.from_path or {}).items():
            if column in frame.columns:
                raise HarnessError(f"column '{column}' of eval_set.from_path is also a column of the file; "
                                   "rename one of them.", path=file.raw)
            frame[column] = value
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    source = files[0].shown if len(files) == 1 else f"{files[0].shown} (+{len(files) - 1} more)"
    judgements = None
    if config.annotations is not None:
        judgements = read_table(config.annotations.path, fmt=config.annotations.format, base_dir=base_dir)
    default_ids = default_line_ids(files, line_numbers) if config.format == "lines" else None
    items, slices, annotations = canonicalise(table, config, source, default_ids=default_ids, judgements=judgements)
    return EvalSet(name=config.name or _default_name(paths[0], files[0]), source=source, items=items,
                   slices=slices, sha256=table_sha256(items, slices), license=config.license,
                   label_counts=label_counts(items),
                   label_categories=tuple(config.columns.categories or ()), annotations=annotations)


def _default_name(raw: str, file: SourceFile) -> str:
    if raw.startswith("hf:"):
        return raw[3:]
    first = Path(raw) if file.shown == raw else Path(file.shown)
    if file.shown != raw:  # a glob pattern: name it after the folder it searched
        anchor = [part for part in Path(raw).parts if not any(ch in part for ch in "*?[")]
        return Path(*anchor).name if anchor else first.stem
    return (first.parent.name or first.stem) if first.stem in {"items", "data", "train", "test"} else first.stem

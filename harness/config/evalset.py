"""The `eval_set:` section: where the items are, which columns hold what, and how labels map."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.config.base import StrictModel
from harness.labels import label_key


class ColumnMap(StrictModel):
    text: str = "text"
    label: str = "label"
    id: str | None = None
    weight: str | None = None
    slices: list[str] = Field(default_factory=list)
    contested: str | None = None
    # Multi-label gold: category id -> column holding 1 / 0 / missing (missing = unknown, not 0).
    categories: dict[str, str] | None = None
    # Raw annotations, wide: one column per annotator, each a raw label or blank (no judgement).
    annotators: list[str] | None = None
    # Items that are translations or adaptations of one another share a value here (gold must agree);
    # several columns make one key together (Multilingual HateCheck: [functionality, templ_id, target_ident]).
    parallel_id: str | list[str] | None = None

    @property
    def parallel_columns(self) -> list[str]:
        """The columns whose values together name an item's parallel group ([] when none is set)."""
        value = self.parallel_id
        return [] if value is None else [value] if isinstance(value, str) else list(value)

    @model_validator(mode="after")
    def _one_gold_source(self) -> ColumnMap:
        if self.categories is not None:
            if not self.categories:
                raise ValueError("'categories' needs at least one category id -> column")
            if self.label != "label":  # a default, not a key given: dumped experiments read back
                raise ValueError("give either 'label' (one label column) or 'categories' (one 1/0 column "
                                 "per category), not both")
        if self.annotators is not None:
            if not self.annotators:
                raise ValueError("'annotators' needs at least one annotator column")
            if len(set(self.annotators)) != len(self.annotators):
                twice = next(a for i, a in enumerate(self.annotators) if a in self.annotators[:i])
                raise ValueError(f"annotator column '{twice}' is listed twice in 'annotators'")
            if self.label != "label" or self.categories is not None:
                raise ValueError("give one gold source: 'label', 'categories' or 'annotators' (gold is then "
                                 "decided from the annotators by eval_set.gold_rule)")
        return self


class AnnotationsConfig(StrictModel):
    """Raw annotations, long: one row per judgement (item id, annotator, raw label)."""
    path: str
    format: Literal["csv", "tsv", "jsonl", "parquet"] | None = None
    item: str = "item_id"
    annotator: str = "annotator"
    label: str = "label"


class StrataSpec(StrictModel):
    """Production stratum sizes: an item in stratum h weighs N_h / n_h (n_h = items judged in h)."""
    column: str
    sizes: dict[str, float]

    @field_validator("sizes", mode="before")
    @classmethod
    def _size_keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_label_key(k): v for k, v in value.items()}
        return value

    @field_validator("sizes")
    @classmethod
    def _positive_sizes(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("'sizes' needs at least one stratum value -> production item count")
        for key, size in value.items():
            if not size > 0 or size == float("inf"):
                raise ValueError(f"the size of stratum '{key}' must be a number > 0 (got {size})")
        return value


class EvalSetConfig(StrictModel):
    path: str | list[str]
    name: str | None = None
    # `lines`: each non-empty line of each file is one item (column `text`), id `<file stem>:<line>`.
    format: Literal["csv", "tsv", "jsonl", "parquet", "lines"] | None = None
    # Headerless delimited files name their columns here (`header: false, names: [text, label]`).
    header: bool = True
    names: list[str] | None = None
    # Tab-separated files are unquoted by default (shared-task TSV: a leading '"' is literal text).
    quoting: Literal["csv", "none"] | None = None
    columns: ColumnMap = Field(default_factory=ColumnMap)
    labels: dict[str, str] | None = None
    # Column -> regex; the first group searched in each file's POSIX path is that column's value.
    from_path: dict[str, str] | None = None
    annotations: AnnotationsConfig | None = None
    # Gold from raw annotations: majority / any (one violating judgement) / all; majority ties -> `tie`.
    gold_rule: Literal["majority", "any", "all"] = "majority"
    tie: Literal["violating", "benign", "unknown"] = "violating"
    # Readable names for raw slice values, per slice column: {class: {0: hate, 1: offensive}}.
    slice_labels: dict[str, dict[str, str]] | None = None
    license: str | None = None
    # Population estimates: production strata sizes, and the share of production content that
    # violates (one number, or per category id); both optional.
    strata: StrataSpec | None = None
    prevalence: float | dict[str, float] | None = None

    @field_validator("prevalence")
    @classmethod
    def _prevalence_in_range(cls, value: float | dict[str, float] | None) -> float | dict[str, float] | None:
        shares = value.values() if isinstance(value, dict) else [] if value is None else [value]
        if any(not 0.0 < share < 1.0 for share in shares):
            raise ValueError("a prevalence must be a share strictly between 0 and 1 (e.g. 0.01)")
        if isinstance(value, dict) and sum(value.values()) >= 1.0:
            raise ValueError("per-category prevalences must add up to less than 1")
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _label_keys_as_text(cls, value: Any) -> Any:
        # YAML reads `0: benign` with an int key; data-set labels are compared as text.
        if isinstance(value, dict):
            return {_label_key(k): v for k, v in value.items()}
        return value

    @field_validator("slice_labels", mode="before")
    @classmethod
    def _slice_keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(col): ({_label_key(k): str(v) for k, v in names.items()} if isinstance(names, dict) else names)
                    for col, names in value.items()}
        return value

    @field_validator("from_path")
    @classmethod
    def _patterns_have_a_group(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for column, pattern in (value or {}).items():
            try:
                groups = re.compile(pattern).groups
            except re.error as err:
                raise ValueError(f"the regex for column '{column}' ('{pattern}') is not a valid regular "
                                 f"expression ({err}); fix it") from None
            if groups == 0:
                raise ValueError(f"the regex for column '{column}' ('{pattern}') has no group; put the part of "
                                 "the path that is the value in parentheses, e.g. 'hate_(\\w+)\\.txt'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EvalSetConfig:
        if not self.header and not self.names:
            raise ValueError("'header: false' needs 'names', the column names in file order (e.g. [text, label])")
        if self.names is not None:
            if self.header:
                raise ValueError("'names' names the columns of a file without a header row; add 'header: false' "
                                 "or drop 'names'")
            twice = next((n for i, n in enumerate(self.names) if n in self.names[:i]), None)
            if twice is not None:
                raise ValueError(f"column '{twice}' is listed twice in 'names'; give every column its own name")
        if self.format in ("jsonl", "parquet", "lines") and (not self.header or self.quoting):
            raise ValueError(f"'header', 'names' and 'quoting' are for CSV and TSV files, not format "
                             f"'{self.format}'")
        raw = self.annotations is not None or self.columns.annotators is not None
        if self.annotations is not None and self.columns.annotators is not None:
            raise ValueError("give raw annotations one way: 'columns.annotators' (one column per annotator) or "
                             "'annotations' (one row per judgement in another file), not both")
        # Compared with the defaults, not with the keys given: a dumped experiment (record.json) must read back.
        if self.annotations is not None and (self.columns.label != "label" or self.columns.categories):
            raise ValueError("with 'annotations' gold is decided from the annotators; drop 'columns.label' "
                             "and 'columns.categories'")
        if not raw and (self.gold_rule != "majority" or self.tie != "violating"):
            raise ValueError("'gold_rule' and 'tie' decide gold from raw annotations; add 'columns.annotators' "
                             "or 'annotations', or drop them")
        if self.tie != "violating" and self.gold_rule != "majority":
            raise ValueError(f"'tie' settles majority ties; gold_rule '{self.gold_rule}' has none, so drop 'tie'")
        if self.columns.categories is not None and self.labels is not None:
            raise ValueError("'labels' maps one label column; with 'columns.categories' each category column "
                             "holds 1 / 0 / missing, so drop 'labels'")
        return self


def _label_key(key: Any) -> str:
    # YAML reads `0: benign` with an int key and `true:` as a bool; data-set labels are compared as text.
    return label_key(key) or str(key)

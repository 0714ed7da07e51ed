"""Experiment YAML -> typed, strict configuration (unknown keys are rejected)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, JsonValue, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from harness.errors import HarnessError, did_you_mean, unreadable, yaml_problem
from harness.labels import label_key


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


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

    @model_validator(mode="after")
    def _one_gold_source(self) -> "ColumnMap":
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
    def _consistent(self) -> "EvalSetConfig":
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


class ClassifierReviewerConfig(StrictModel):
    type: Literal["classifier"]
    name: str
    train: EvalSetConfig | None = None
    model_uri: str | None = None
    folds: int = Field(default=5, ge=2, le=20)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    max_features: int = Field(default=50_000, ge=100)
    seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> "ClassifierReviewerConfig":
        if self.train is not None and self.model_uri is not None:
            raise ValueError("give either 'train' or 'model_uri', not both")
        return self


class Price(StrictModel):
    """A model's price in USD per million tokens; overrides litellm's price table."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


REASONING_MAX_TOKENS = 8192  # the default max_tokens of a reviewer with a reasoning_effort


class LLMReviewerConfig(StrictModel):
    type: Literal["llm"]
    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    prompt: str | None = None  # a template file; None = the built-in reviewer_v1 template
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=256, ge=1)
    concurrency: int = Field(default=8, ge=1, le=1024)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    samples: int = Field(default=1, ge=1, le=50)
    max_cost_usd: float | None = Field(default=None, ge=0)
    price: Price | None = None
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    limit: int | None = Field(default=None, ge=1)
    seed: int | None = None
    # How long a reasoning model thinks before it answers; sent as litellm's reasoning_effort.
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    # Provider settings passed through to the call as they are (top_p, extra_body, extra_headers).
    params: dict[str, JsonValue] = Field(default_factory=dict)
    # Provider batch API (docs/batch.md): uncached judgements go out as JSONL files of requests.
    batch: bool = False
    batch_window: str = "24h"
    poll_s: float = Field(default=30.0, gt=0)
    batch_max_lines: int = Field(default=50_000, ge=1)
    batch_max_bytes: int = Field(default=200_000_000, ge=1024)
    batch_provider: Literal["openai", "azure", "vertex_ai", "bedrock"] | None = None  # litellm's custom_llm_provider
    batch_discount: float = Field(default=0.5, gt=0.0, le=1.0)  # batch price = online price x this

    @field_validator("params")
    @classmethod
    def _plain_settings(cls, params: dict[str, JsonValue]) -> dict[str, JsonValue]:
        from harness.config.provider_params import check_params

        check_params(params)
        return params

    @field_validator("batch_window")
    @classmethod
    def _window_in_hours(cls, window: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]*h", window):
            raise ValueError(f"'batch_window' must be a whole number of hours such as '24h' (OpenAI accepts only "
                             f"'24h'); got {window!r}")
        return window

    @model_validator(mode="after")
    def _batch_provider(self) -> "LLMReviewerConfig":
        if self.batch and self.model.startswith("local/"):
            raise ValueError(f"reviewer '{self.name}' sets batch: true but the local model server has no batch "
                             "API; remove 'batch' or use a provider model")
        if not self.batch or self.batch_provider is not None:
            return self
        prefix = self.model.split("/", 1)[0] if "/" in self.model else ""
        if prefix == "openai" or self.api_base:
            self.batch_provider = "openai"
        elif prefix in ("azure", "vertex_ai", "bedrock"):
            self.batch_provider = prefix  # type: ignore[assignment]
        else:
            raise ValueError(f"reviewer '{self.name}' sets batch: true but no batch API is known for model "
                             f"'{self.model}'; set 'batch_provider' to one of openai, azure, vertex_ai, bedrock")
        return self

    @model_validator(mode="after")
    def _room_to_reason(self) -> "LLMReviewerConfig":
        # The reasoning comes before the answer: 256 tokens would cut most answers off.
        if self.reasoning_effort is not None and "max_tokens" not in self.model_fields_set:
            self.max_tokens = REASONING_MAX_TOKENS
        return self


ReviewerConfig = Annotated[
    Union[ClassifierReviewerConfig, LLMReviewerConfig], Field(discriminator="type")
]

GATE_METRICS = ("over_enforcement", "leakage", "false_action_share", "abstention_rate")


class GateSpec(StrictModel):
    max: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    category: str | None = None
    slice: dict[str, str] | None = None
    # One gate per value of this slice column (e.g. `per: language`), each reported like a slice gate.
    per: str | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> "GateSpec":
        if self.max is None and self.min is None:
            raise ValueError("a gate needs 'max' or 'min'")
        if self.per is not None and (self.slice is not None or self.category is not None):
            raise ValueError("'per' makes one gate per value of a slice column; it cannot be combined with "
                             "'slice' or 'category'")
        return self


class InjectionConfig(StrictModel):
    enabled: bool = False
    max_items: int = Field(default=50, ge=1, le=10_000)


class TrackingConfig(StrictModel):
    enabled: bool = True
    experiment_name: str | None = None


class AuthorConfig(StrictModel):
    """The model `revise` asks for revised policies (called through the same client and cache as reviewers)."""
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    candidates: int = Field(default=3, ge=1, le=20)
    holdout: float = Field(default=0.5, gt=0.0, lt=1.0)
    target: Literal["over_enforcement", "leakage", "errors"] = "errors"
    max_tokens: int = Field(default=2048, ge=1)
    max_policy_tokens: int = Field(default=900, ge=1)
    describe_clusters: int = Field(default=3, ge=0)  # largest N clusters per grouping get a description; 0: none
    max_cost_usd: float | None = Field(default=None, ge=0)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    price: Price | None = None


class Experiment(StrictModel):
    name: str
    description: str | None = None
    policy: str
    baseline: str | None = None
    eval_set: EvalSetConfig
    reviewers: list[ReviewerConfig] = Field(min_length=1)
    gates: dict[str, GateSpec] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    injection: InjectionConfig = Field(default_factory=InjectionConfig)
    author: AuthorConfig | None = None  # for `revise`: the model that proposes revised policies
    base_dir: str = Field(default=".", exclude=True)
    # The experiment file, for error messages about the names it gives; never a YAML key.
    _source: str | None = PrivateAttr(default=None)

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                metric = str(key).split("@", 1)[0]
                if metric not in GATE_METRICS:
                    raise ValueError(
                        f"unknown gate '{key}'; gates are named after a metric "
                        f"({', '.join(GATE_METRICS)}), optionally as 'metric@label'."
                        + did_you_mean(metric, GATE_METRICS)
                    )
        return value

    @model_validator(mode="after")
    def _unique_reviewers(self) -> "Experiment":
        names = [r.name for r in self.reviewers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"reviewer names must be unique; '{dupes[0]}' is used twice")
        return self

    @model_validator(mode="after")
    def _local_model_files(self) -> "Experiment":
        # `local/models/x.gguf` is a path like any other: read from the experiment file's folder.
        for config in [*self.reviewers, self.author]:
            if isinstance(config, (LLMReviewerConfig, AuthorConfig)):
                config.model = resolve_local_model(config.model, Path(self.base_dir))
        return self

    @property
    def source(self) -> str | None:
        """The experiment file this was read from (None when built from a mapping without a path)."""
        return self._source

    def resolve(self, path: str) -> Path:
        """A path the experiment names, read from the experiment file's folder."""
        return resolve_path(path, Path(self.base_dir))


def resolve_path(path: str | Path, base_dir: Path) -> Path:
    """The one place paths are resolved: `~` expands, an absolute path stays, a relative one is read
    from `base_dir` (the experiment file's folder), never from the working directory."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = Path(base_dir).expanduser().absolute() / candidate
    # Lexical, as docker-compose does: error messages show the path as written, not symlink targets.
    return Path(os.path.normpath(candidate))


def resolve_local_model(model: str, base_dir: Path) -> str:
    """`local/<file>.gguf` with the file resolved from `base_dir`; a named local model stays as it is."""
    from harness.config.local import LOCAL_PREFIX

    name = model.removeprefix(LOCAL_PREFIX)
    if name == model or not name.endswith(".gguf"):
        return model
    return LOCAL_PREFIX + str(resolve_path(name, base_dir))


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem is a HarnessError naming the file."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise HarnessError(
            "an experiment file must be a YAML mapping with keys such as 'name', 'policy', "
            "'eval_set' and 'reviewers'.",
            path=path,
        )
    data.setdefault("name", path.stem)
    return parse_experiment(data, path=path)


def parse_experiment(data: dict[str, Any], *, path: str | Path | None = None) -> Experiment:
    """An experiment from a mapping; its relative paths are read from the folder of `path`, or from
    the working directory at the time of this call when no path is given."""
    base_dir = str(Path(path).expanduser().absolute().parent if path is not None else Path.cwd())
    try:
        experiment = Experiment.model_validate({**data, "base_dir": base_dir})
    except ValidationError as err:
        raise HarnessError(describe_validation_error(err, Experiment), path=path) from None
    experiment._source = str(path) if path is not None else None
    return experiment


def read_yaml(path: Path) -> Any:
    if not path.exists():
        raise HarnessError("file not found; check the path.", path=path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise HarnessError("is not UTF-8 text; save it as UTF-8.", path=path) from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise HarnessError(f"is not valid YAML{yaml_problem(err)}; fix the syntax there.", path=path) from None
    except OSError as err:  # a directory, no permission
        raise HarnessError(f"could not be read ({unreadable(err)}); give the path of an experiment YAML file.",
                           path=path) from None


def describe_validation_error(err: ValidationError, model: type[BaseModel]) -> str:
    """The first pydantic error as one sentence, with 'did you mean' for misspelled keys."""
    errors = err.errors()
    # A misspelled required key shows up as 'missing' too; the 'unknown key' error carries the hint.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in first["loc"]]
    # pydantic puts the reviewer type into the location ('reviewers.0.llm.model'); users never wrote it.
    where = ".".join(p for i, p in enumerate(loc) if not (i and loc[i - 1].isdigit() and p in ("classifier", "llm")))
    where = where or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        hint = did_you_mean(loc[-1], allowed)
        listing = f" Allowed keys here: {', '.join(sorted(allowed))}." if allowed and not hint else ""
        return f"unknown key '{where}'.{hint}{listing}"
    if kind == "missing":
        return f"missing required key '{where}'; add it."
    if kind == "union_tag_invalid":
        tag = first.get("ctx", {}).get("tag", "")
        return f"'{where}' has unknown type '{tag}'; use 'classifier' or 'llm'.{did_you_mean(tag, ['classifier', 'llm'])}"
    if kind == "union_tag_not_found":
        return f"'{where}' needs a 'type' key ('classifier' or 'llm')."
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    got_text = f" Got {got!r} instead." if got is not None and not isinstance(got, (dict, list)) else ""
    return f"'{where}': {msg}{'' if msg.endswith(('.', '?', '!')) else '.'}{got_text}"


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """Field names of the (nested) model at a location, for 'did you mean' hints."""
    current: Any = model
    for part in loc:
        if part.isdigit():
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            if part in ("classifier", "llm"):
                current = ClassifierReviewerConfig if part == "classifier" else LLMReviewerConfig
                continue
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name in current.model_fields if name != "base_dir"]
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as `list[X]`, `X | None` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None

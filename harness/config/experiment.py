"""The experiment file as a whole: gates, injection, tracking and author settings, and how it is read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from harness.config.base import StrictModel, read_yaml, resolve_path
from harness.config.evalset import EvalSetConfig
from harness.config.local import LOCAL_PREFIX
from harness.config.reviewers import CachedCalls, LLMReviewerConfig, Price, ReviewerConfig
from harness.config.validation import describe_validation_error
from harness.errors import HarnessError, did_you_mean

GATE_METRICS = ("over_enforcement", "leakage", "false_action_share", "abstention_rate", "rationale_inconsistency")


class GateSpec(StrictModel):
    max: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    category: str | None = None
    slice: dict[str, str] | None = None
    # One gate per value of this slice column (e.g. `per: language`), each reported like a slice gate.
    per: str | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> GateSpec:
        if self.max is None and self.min is None:
            raise ValueError("a gate needs 'max' or 'min'")
        if self.per is not None and (self.slice is not None or self.category is not None):
            raise ValueError("'per' makes one gate per value of a slice column; it cannot be combined with "
                             "'slice' or 'category'")
        return self


class InjectionConfig(StrictModel):
    enabled: bool = False
    max_items: int = Field(default=50, ge=1, le=10_000)


class TraceSample(StrictModel):
    sample: int = Field(ge=1)


TRACES_ENV = "POLICY_HARNESS_TRACES"


def default_traces() -> Literal["all", "none"] | TraceSample:
    """`tracking.traces` when the experiment does not set it: POLICY_HARNESS_TRACES (`all`, `none` or a
    sample size), for a CI job or a batch host that wants no traces from any experiment; else `all`."""
    value = os.environ.get(TRACES_ENV, "").strip().lower()
    if value in ("", "all"):
        return "all"
    if value == "none":
        return "none"
    if value.isdigit() and int(value) >= 1:
        return TraceSample(sample=int(value))
    raise HarnessError(f"{TRACES_ENV}={value!r} is not a trace setting; set it to all, none or a number of items "
                       "to sample, or unset it.")


class TrackingConfig(StrictModel):
    enabled: bool = True
    experiment_name: str | None = None
    # One MLflow trace per judged item (docs/mlflow.md): every item, none, or a sample of N items.
    traces: Literal["all", "none"] | TraceSample = Field(default_factory=default_traces)


class AuthorConfig(CachedCalls):
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
    # The judgement cache file (relative: from the experiment file's folder). It wins over POLICY_HARNESS_CACHE;
    # unset, the cache is the user's own, the same from every folder (harness/_util/cache_dir.py).
    cache: str | None = None
    # Drift canaries: a file in the eval set's format (read with its columns and labels) that every run
    # of an LLM reviewer judges afresh and compares with its previous run (docs/stability.md).
    canaries: str | None = None
    base_dir: str = Field(default=".", exclude=True)
    # How a policy's translations (`vN.<lang>.md`) judge: `auto` each item with the translation in its
    # language, `side_by_side` with the original and the translations, `off` with the original only
    # (docs/multilingual.md). The first version's `true` / `false` read as side_by_side / off.
    localized: Literal["auto", "off", "side_by_side"] = "auto"
    # The experiment file, for error messages about the names it gives; never a YAML key.
    _source: str | None = PrivateAttr(default=None)

    @field_validator("localized", mode="before")
    @classmethod
    def _localized_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):  # files written for `localized: true | false`
            return "side_by_side" if value else "off"
        return value

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
                gate = value[key]
                if metric == "rationale_inconsistency" and isinstance(gate, dict) and any(
                        gate.get(scope) is not None for scope in ("category", "slice", "per")):
                    raise ValueError(f"gate '{key}' bounds a reviewer's overall rate of inconsistent rationales; "
                                     "remove its 'category', 'slice' or 'per'.")
        return value

    @model_validator(mode="after")
    def _unique_reviewers(self) -> Experiment:
        names = [r.name for r in self.reviewers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"reviewer names must be unique; '{dupes[0]}' is used twice")
        return self

    @model_validator(mode="after")
    def _local_model_files(self) -> Experiment:
        # `local/models/x.gguf` is a path like any other: read from the experiment file's folder.
        for config in [*self.reviewers, self.author]:
            if isinstance(config, (LLMReviewerConfig, AuthorConfig)):
                config.model = resolve_local_model(config.model, Path(self.base_dir))
        return self

    @model_validator(mode="after")
    def _one_cache_for_every_model(self) -> Experiment:
        for config in [*self.reviewers, self.author]:
            if isinstance(config, CachedCalls):
                config.use_cache(self.cache_file)
        return self

    @property
    def cache_file(self) -> Path | None:
        """The `cache:` file, resolved from the experiment file's folder; None when the key is unset."""
        return self.resolve(self.cache) if self.cache else None

    @property
    def source(self) -> str | None:
        """The experiment file this was read from (None when built from a mapping without a path)."""
        return self._source

    def resolve(self, path: str) -> Path:
        """A path the experiment names, read from the experiment file's folder."""
        return resolve_path(path, Path(self.base_dir))


def resolve_local_model(model: str, base_dir: Path) -> str:
    """`local/<file>.gguf` with the file resolved from `base_dir`; a named local model stays as it is."""
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

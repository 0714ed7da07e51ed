"""`validate`: check experiments, policies and eval sets before any model is called."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.config import Experiment


def validate_path(path: Path) -> str:
    """Validate one file by its kind; return a one-line summary, raise HarnessError on a problem."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _validate_experiment(path)
    if suffix == ".md":
        from harness.policy import load_policy
        from harness.policy.lint import lint_summary
        from harness.policy.localized import translation_paths

        policy = load_policy(path)
        beside = ", ".join(f"{p.name} ({p.name.removeprefix(path.name.removesuffix('.md') + '.').removesuffix('.md')})"
                           for p in translation_paths(path))
        return (f"ok  policy {policy.label}: {len(policy.categories)} categories, "
                f"{sum(not r.is_exception for r in policy.rules)} rules, "
                f"{sum(r.is_exception for r in policy.rules)} exceptions, sha256 {policy.sha256[:12]}"
                + (f"\n    translations beside it: {beside}" if beside else "")
                + f"\n    {lint_summary(path)}")
    if suffix in (".csv", ".tsv", ".jsonl", ".parquet", ".json", ".ndjson"):
        from harness.config import EvalSetConfig
        from harness.evalset import load_evalset

        evalset = load_evalset(EvalSetConfig(path=str(path)))
        return f"ok  eval set {evalset.name}: {len(evalset)} items, labels {evalset.label_counts}"
    raise HarnessError("cannot tell what this file is; validate takes experiment .yaml, policy .md "
                       "or eval-set .csv/.tsv/.jsonl/.parquet files.", path=path)


def _validate_experiment(path: Path) -> str:
    from harness.config import load_experiment
    from harness.pipeline.canaries import load_canaries
    from harness.pipeline.run import load_inputs

    experiment = load_experiment(path)
    candidate, baseline, evalset = load_inputs(experiment)
    load_canaries(experiment, candidate)  # a `canaries:` file that does not load fails here, not after the run
    _check_reviewers(experiment, path)
    from harness.policy.lint import lint_summary

    versions = candidate.label + (f" vs {baseline.label}" if baseline else "")
    from harness.policy.localized import LocalizedPolicy

    paths = [p.path for p in filter(None, (candidate, baseline))]
    if isinstance(candidate, LocalizedPolicy):  # the original once, then each translation
        paths += [t.path for t in candidate.translations.values()]
    if isinstance(baseline, LocalizedPolicy):
        paths += [t.path for t in baseline.translations.values()]
    lint = "".join(f"\n    {lint_summary(p)}" for p in dict.fromkeys(paths))
    from harness.pipeline.localized import translation_summary

    found = "".join(f"\n    {line}" for line in translation_summary(experiment, candidate, baseline, evalset))
    return (f"ok  experiment {experiment.name}: {versions}, eval set {evalset.name} ({len(evalset)} items), "
            f"{len(experiment.reviewers)} reviewer(s){found}{lint}")


def _check_reviewers(experiment: Experiment, path: Path) -> None:
    """What each reviewer kind checks of its own configuration before any call (a prompt file that
    does not load, a `max_cost_usd` the run could not enforce), named against the experiment file."""
    from harness.reviewers.base import ConfigChecking
    from harness.reviewers.registry import reviewer_class

    for config in experiment.reviewers:
        kind = reviewer_class(config.type)
        if issubclass(kind, ConfigChecking):
            try:
                kind.check_config(config, Path(experiment.base_dir))
            except HarnessError as err:
                raise HarnessError(err.message, path=err.path or path) from None

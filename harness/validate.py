"""`validate`: check experiments, policies and eval sets before any model is called."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError


def validate_path(path: Path) -> str:
    """Validate one file by its kind; return a one-line summary, raise HarnessError on a problem."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _validate_experiment(path)
    if suffix == ".md":
        from harness.policy import load_policy

        policy = load_policy(path)
        return (f"ok  policy {policy.label}: {len(policy.categories)} categories, "
                f"{sum(not r.is_exception for r in policy.rules)} rules, "
                f"{sum(r.is_exception for r in policy.rules)} exceptions, sha256 {policy.sha256[:12]}")
    if suffix in (".csv", ".tsv", ".jsonl", ".parquet", ".json", ".ndjson"):
        from harness.config import EvalSetConfig
        from harness.evalset import load_evalset

        evalset = load_evalset(EvalSetConfig(path=str(path)))
        return f"ok  eval set {evalset.name}: {len(evalset)} items, labels {evalset.label_counts}"
    raise HarnessError("cannot tell what this file is; validate takes experiment .yaml, policy .md "
                       "or eval-set .csv/.tsv/.jsonl/.parquet files.", path=path)


def _validate_experiment(path: Path) -> str:
    from harness.config import LLMReviewerConfig, load_experiment
    from harness.runner import load_inputs

    experiment = load_experiment(path)
    candidate, baseline, evalset = load_inputs(experiment)
    for reviewer in experiment.reviewers:
        if isinstance(reviewer, LLMReviewerConfig):
            from harness.prompts import load_template

            load_template(experiment.resolve(reviewer.prompt))
    versions = candidate.label + (f" vs {baseline.label}" if baseline else "")
    return (f"ok  experiment {experiment.name}: {versions}, eval set {evalset.name} ({len(evalset)} items), "
            f"{len(experiment.reviewers)} reviewer(s)")

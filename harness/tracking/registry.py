"""Policy versions in the MLflow prompt registry, and eval sets as MLflow dataset inputs."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.record import EvalSetSummary

SHA_TAG = "policy_harness.sha256"


def register_policy(client: Any, policy: dict[str, Any]) -> str | None:
    """Register a policy text once per content hash; return its prompt URI (prompts:/name/version)."""
    name = f"policy-{policy['id']}"
    for version in prompt_versions(client, name):
        if (version.tags or {}).get(SHA_TAG) == policy["sha256"]:
            found = version
            break
    else:
        # MLflow formats {{ }} placeholders in prompts; a policy has none, so the text is stored verbatim.
        found = client.register_prompt(
            name=name, template=policy["text"], commit_message=f"{policy['id']} v{policy['version']}",
            tags={SHA_TAG: policy["sha256"], "policy_version": str(policy["version"]), "policy_id": policy["id"]})
    return f"prompts:/{name}/{found.version}"


def prompt_versions(client: Any, name: str) -> list[Any]:
    """Every version of a prompt (each with `.version` and `.tags`); none when there is no such prompt."""
    try:
        found = client.search_prompt_versions(name)
        return list(getattr(found, "prompt_versions", found))
    except Exception as err:  # no such prompt yet, or an open-source registry that cannot search them (MLflow 3.4)
        if "not supported" not in str(err):
            return []
    # prompt versions are model versions tagged as prompts, which a model version search finds
    try:
        return list(client.search_model_versions(f"name = '{name}' AND tags.`mlflow.prompt.is_prompt` = 'true'"))
    except Exception:  # no prompt of that name yet
        return []


def link_policy(client: Any, run_id: str, prompt_uri: str) -> None:
    name, version = prompt_uri.removeprefix("prompts:/").rsplit("/", 1)
    client.link_prompt_version_to_run(run_id, client.get_prompt_version(name, int(version)))


def evalset_input(evalset: EvalSetSummary, items: pd.DataFrame) -> Any:
    """The eval set as an MLflow dataset input, built once and logged to every run of a record."""
    import warnings

    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    columns = [c for c in ("item_id", "text", "gold", "weight", *evalset.slices) if c in items.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow warns that a path source is ambiguous; it picks the right one
        dataset = from_pandas(items[columns], source=str(evalset.source), name=str(evalset.name),
                              digest=str(evalset.sha256)[:20])
    return DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "eval")])

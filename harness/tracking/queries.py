"""Reading back from MLflow: a run's verdicts, a logged scikit-learn model."""

from __future__ import annotations

import pandas as pd

from harness.errors import HarnessError
from harness.tracking import tracking_uri
from harness.verdicts import read_verdicts


def run_verdicts(run_id: str) -> tuple[str, pd.DataFrame]:
    """The label and verdicts.parquet of a child run (one policy version x reviewer), by run id."""
    import mlflow.artifacts
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri())
        run = client.get_run(run_id)
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="verdicts.parquet",
                                                    tracking_uri=tracking_uri())
    except Exception as err:  # unknown id, unreachable server, missing artifact
        raise HarnessError(f"'{run_id}' is neither a run directory nor an MLflow run with a verdicts.parquet "
                           f"artifact at {tracking_uri()} ({str(err).splitlines()[0][:160]}); give a directory "
                           "or a child run id (one per policy version x reviewer).") from None
    tags = run.data.tags
    label = f"{tags.get('policy_id', '?')}@v{tags.get('policy_version', '?')} · {tags.get('reviewer', '?')}"
    return label, read_verdicts(local)


def load_sklearn_model(uri: str) -> object:
    """A scikit-learn model logged to MLflow (runs:/, models:/, file:// or a local folder).

    Raises:
        ValueError: with MLflow's first line, when it cannot be loaded (the caller names the reviewer).
    """
    import mlflow.sklearn

    try:
        return mlflow.sklearn.load_model(uri)
    except Exception as err:  # MLflow raises many types for a missing or unreadable model
        raise ValueError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None

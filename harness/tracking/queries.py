"""Reading back from MLflow: a run's verdicts, a logged scikit-learn model."""

from __future__ import annotations

import pandas as pd

from harness.errors import HarnessError
from harness.tracking import client, safe_uri, sqlite_path, tracking_uri
from harness.verdicts import read_verdicts


def require_store(*, also: str = "") -> None:
    """Refuse a lookup in a SQLite store that does not exist: opening it would create an empty one.

    Args:
        also: another way to the same answer, appended to the fix (", or ...").

    Raises:
        HarnessError: naming the missing file and how to point at the right store.
    """
    database = sqlite_path(tracking_uri())
    if database is not None and not database.is_file():
        raise HarnessError(f"no MLflow store at {database} (tracking URI {safe_uri()}); run from the folder "
                           f"where 'run' wrote it or set MLFLOW_TRACKING_URI{also}.")


def first_line(err: BaseException) -> str:
    """The first line of an error from MLflow, whitespace-collapsed and cut, for a one-line message."""
    lines = str(err).strip().splitlines()
    return " ".join(lines[0].split())[:160] if lines else type(err).__name__


def run_verdicts(run_id: str) -> tuple[str, pd.DataFrame]:
    """The label and verdicts.parquet of a child run (one policy version x reviewer), by run id."""
    import mlflow.artifacts

    require_store()
    try:
        with client() as c:
            run = c.get_run(run_id)
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="verdicts.parquet",
                                                        tracking_uri=tracking_uri())
    except Exception as err:  # unknown id, unreachable server, missing artifact
        raise HarnessError(f"'{run_id}' is neither a run directory nor an MLflow run with a verdicts.parquet "
                           f"artifact at {safe_uri()} ({first_line(err)}); give a directory "
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

"""policy-harness: test a draft content policy before launch.

The notebook API is the pipeline the CLI uses::

    import harness
    experiment = harness.load_experiment("experiments/quickstart.yaml")
    record = harness.run(experiment, limit=100)   # also in a notebook cell, where a loop is running
    record = await harness.run_async(experiment)  # from async code
    record.verdicts            # pandas DataFrame, one row per item x reviewer x policy version
    record.metrics.reviewers["tfidf-lr"].over_enforcement.rate   # typed: harness.record.Metrics
    record.metrics.model_dump()  # the same as metrics.json; `policy-harness schema metrics` prints its schema
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
__all__ = ["Experiment", "HarnessError", "RunRecord", "load_evalset", "load_experiment", "load_policy",
           "parse_experiment", "read_record", "run", "run_async"]

if TYPE_CHECKING:
    from harness.config import Experiment, load_experiment, parse_experiment
    from harness.errors import HarnessError
    from harness.evalset import load_evalset
    from harness.pipeline.run import run, run_async
    from harness.policy import load_policy
    from harness.record import RunRecord, read_record

_LAZY = {
    "Experiment": "harness.config", "load_experiment": "harness.config", "parse_experiment": "harness.config",
    "HarnessError": "harness.errors", "load_evalset": "harness.evalset", "load_policy": "harness.policy",
    "RunRecord": "harness.record", "read_record": "harness.record", "run": "harness.pipeline.run",
    "run_async": "harness.pipeline.run",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `policy-harness --help` does not pay for pandas, sklearn or mlflow imports.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")

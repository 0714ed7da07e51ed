"""Two reviewer runs compared on their traces' feedback, as MLflow's `compare_evaluations` does.

`mlflow.genai.compare_evaluations` (MLflow 3.18) pairs two runs' traces on `mlflow.eval.requestId` and
tests each feedback name with McNemar's test. Where the installed MLflow lacks it, the same pairing is
done here from the traces: each run's `over_enforcement` and `leakage` feedback by item id (an error,
i.e. an abstention, is left out, as MLflow and the metrics leave it out), and the exact McNemar test
on the discordant pairs (McNemar, Psychometrika 12:153-157, 1947; exact binomial form as in
`docs/statistics.md`), which is what `policy-harness compare` reports for the same items.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.tracking.compat import search_traces

FEEDBACK = ("over_enforcement", "leakage")


@dataclass(frozen=True)
class FeedbackChange:
    """One feedback name compared between a baseline and a candidate run on the items both decided."""

    name: str
    n_paired: int
    up: int | None  # false in the baseline, true in the candidate (None: MLflow compared)
    down: int | None  # true in the baseline, false in the candidate
    diff: float | None  # candidate mean - baseline mean on the paired items
    p_value: float | None
    method: str


def exact_mcnemar_p(up: int, down: int) -> float:
    """Two-sided exact McNemar p-value on the discordant pairs (1.0 when there are none)."""
    from scipy.stats import binom

    if up + down == 0:
        return 1.0
    return min(1.0, 2.0 * float(binom.cdf(min(up, down), up + down, 0.5)))


def feedback_by_item(client: Any, run_id: str, name: str) -> dict[str, bool]:
    """The run's valid `name` feedback without an error, by item id (the trace's `mlflow.eval.requestId`)."""
    experiment_id = client.get_run(run_id).info.experiment_id
    out: dict[str, bool] = {}
    token: str | None = None
    while True:
        page = search_traces(client.search_traces, experiment_id, run_id=run_id, max_results=500,
                             page_token=token, include_spans=False)
        for trace in page:
            item_id = trace.info.tags.get("mlflow.eval.requestId") or trace.info.client_request_id
            for a in trace.info.assessments or []:
                if (a.name == name and a.feedback is not None and a.error is None and a.valid is not False
                        and a.run_id in (None, run_id)):
                    out[str(item_id)] = bool(a.value)
        token = page.token
        if not token:
            return out


def mcnemar_from_traces(client: Any, candidate_run_id: str, baseline_run_id: str,
                        names: Sequence[str] = FEEDBACK) -> dict[str, FeedbackChange]:
    """Each feedback name of two runs' traces paired by item id, with the exact McNemar test."""
    out: dict[str, FeedbackChange] = {}
    for name in names:
        after, before = feedback_by_item(client, candidate_run_id, name), feedback_by_item(client, baseline_run_id, name)
        paired = [(before[i], after[i]) for i in after.keys() & before.keys()]
        up = sum(1 for b, a in paired if a and not b)
        down = sum(1 for b, a in paired if b and not a)
        out[name] = FeedbackChange(name=name, n_paired=len(paired), up=up, down=down,
                                   diff=(up - down) / len(paired) if paired else None,
                                   p_value=exact_mcnemar_p(up, down) if paired else None,
                                   method="exact McNemar on the traces' feedback")
    return out


def compare_runs(client: Any, candidate_run_id: str, baseline_run_id: str,
                 names: Sequence[str] = FEEDBACK) -> dict[str, FeedbackChange]:
    """MLflow's `compare_evaluations` where the installed MLflow has it, else the exact McNemar from the traces."""
    try:
        from mlflow.genai import compare_evaluations
    except ImportError:
        return mcnemar_from_traces(client, candidate_run_id, baseline_run_id, names)
    import mlflow

    # compare_evaluations reads through MLflow's process-wide URI: point it at the client's store meanwhile.
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        result = compare_evaluations(candidate_run_id=candidate_run_id, baseline_run_id=baseline_run_id)
    finally:
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None: back to no URI set
    out: dict[str, FeedbackChange] = {}
    for name in names:
        if (theirs := result.scorers.get(name)) is None:
            continue
        out[name] = FeedbackChange(name=name, n_paired=int(theirs.n_paired), up=None, down=None,
                                   diff=None if theirs.diff is None else float(theirs.diff),
                                   p_value=None if theirs.p_value is None else float(theirs.p_value),
                                   method="mlflow.genai.compare_evaluations")
    return out

"""Human corrections made in MLflow's UI, read back: a gold label logged as an expectation by anyone but
the eval set, and a verdict overridden (MLflow's override_feedback) or given by a human.

`policy-harness corrections RUN` lists them, keeping the judge's original beside each, and writes the
eval set with the corrected gold and an experiment file pointing at it, which `rescore --experiment`
uses (`docs/mlflow.md`)."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from harness.errors import HarnessError
from harness.record import RECORD, RunRecord, read_record
from harness.record.files import read_model
from harness.record.header import RecordHeader
from harness.tracking.assessments import EVAL_SET_SOURCE_PREFIX, GOLD, VERDICT
from harness.tracking.compat import search_traces

CORRECTED_ITEMS = "corrected-items.csv"
CORRECTED_EXPERIMENT = "corrected-experiment.yaml"
_RUN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Correction:
    """One corrected item in one reviewer run: what was there, what a person says instead, and who."""

    item_id: str
    run: str  # the reviewer run's name, e.g. 'hate_speech@v2 · fake'
    field: str  # 'gold' or 'verdict'
    original: str
    corrected: str
    by: str
    judge: str  # the reviewer's own verdict, kept whatever was corrected
    rationale: str = ""

    def line(self) -> str:
        """The item id first, then what changed, who changed it and the judge's original verdict."""
        why = f" — {self.rationale}" if self.rationale else ""
        return (f"{self.item_id}\t{self.field}: {self.original} -> {self.corrected}\tby {self.by}\t"
                f"judge said: {self.judge}\t[{self.run}]{why}")


@dataclass
class Corrections:
    corrections: list[Correction]
    items: pd.DataFrame  # item_id, text, gold (corrected), slices: the eval set as the traces hold it
    slices: list[str]
    record: RunRecord | None
    experiment: dict[str, Any] | None


def read_corrections(source: str) -> Corrections:
    """The corrections of a run: a run directory, its parent MLflow run id, or one reviewer run id."""
    from harness.tracking import client, safe_uri
    from harness.tracking.queries import first_line

    record = read_record(Path(source)) if (Path(source) / RECORD).exists() else None
    if record is None and not _RUN_ID.fullmatch(source):
        raise HarnessError("is neither a run directory (no record.json) nor an MLflow run id (32 hex digits); give "
                           "the directory 'run' wrote or a run id from 'policy-harness runs'.", path=Path(source))
    try:
        with client() as c:
            runs = _reviewer_runs(c, source, record)
            experiment = record.experiment if record else _experiment_of(c, runs)
            found: list[Correction] = []
            items: dict[str, dict[str, Any]] = {}
            for run in runs:
                found += _run_corrections(run, items)
    except HarnessError:
        raise
    except Exception as err:
        raise HarnessError(f"cannot read the traces of {source} at {safe_uri()} ({first_line(err)}); check "
                           "MLFLOW_TRACKING_URI and that the run's traces were written ('policy-harness sync').") from None
    slices = list(record.evalset.slices) if record else sorted({k for v in items.values() for k in v["slices"]})
    table = pd.DataFrame([{"item_id": i, "text": v["text"], "gold": v["gold"], **v["slices"]}
                          for i, v in items.items()], columns=["item_id", "text", "gold", *slices])
    for c in found:
        if c.field == "gold":
            table.loc[table["item_id"] == c.item_id, "gold"] = c.corrected
    return Corrections(found, table, slices, record, experiment)


def _reviewer_runs(c: Any, source: str, record: RunRecord | None) -> list[Any]:
    if record is not None:
        if not record.mlflow.runs:
            raise HarnessError("was not logged to MLflow; log it with 'policy-harness sync' first.", path=Path(source))
        return [c.get_run(rid) for rid in record.mlflow.runs.values()]
    run = c.get_run(source)
    if "mlflow.parentRunId" in run.data.tags:
        return [run]
    children = c.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{source}'")
    return list(children) or [run]


def _experiment_of(c: Any, runs: list[Any]) -> dict[str, Any] | None:
    parent = runs[0].data.tags.get("mlflow.parentRunId") if runs else None
    if not parent:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = c.download_artifacts(parent, RECORD, tmp)
        except Exception:  # a parent without its record.json artifact: no experiment file to write
            return None
        return dict(read_model(Path(path), RecordHeader).experiment)


def _run_corrections(run: Any, items: dict[str, dict[str, Any]]) -> list[Correction]:
    import mlflow

    traces = search_traces(mlflow.search_traces, run.info.experiment_id, run_id=run.info.run_id,
                           return_type="list")
    name = run.info.run_name or run.info.run_id
    out: list[Correction] = []
    for trace in traces:
        item_id = trace.info.client_request_id or trace.info.tags.get("mlflow.eval.requestId", "")
        root = trace.data.spans[0] if trace.data.spans else None
        inputs = root.inputs if root is not None and isinstance(root.inputs, dict) else {}
        original_gold = trace.info.trace_metadata.get("policy_harness.gold", "")
        items.setdefault(item_id, {"text": inputs.get("text", ""), "gold": original_gold,
                                   "slices": dict(inputs.get("slices") or {})})
        assessments = [a for a in trace.info.assessments if a.valid is not False]
        verdicts = [a for a in trace.info.assessments if a.name == VERDICT]
        judge = next((str(a.value if a.error is None else f"abstained ({a.error.error_code})") for a in verdicts
                      if not a.overrides and a.source.source_type != "HUMAN"), "")
        for a in sorted(assessments, key=lambda a: a.last_update_time_ms or 0):
            human_gold = a.name == GOLD and a.expectation is not None and (
                not str(a.source.source_id).startswith(EVAL_SET_SOURCE_PREFIX) or str(a.value) != original_gold)
            if human_gold and str(a.value) != original_gold:
                out.append(Correction(item_id, name, "gold", original_gold, str(a.value), a.source.source_id, judge,
                                      a.rationale or ""))
            elif a.name == VERDICT and a.feedback is not None and (a.overrides or a.source.source_type == "HUMAN"):
                out.append(Correction(item_id, name, "verdict", judge, str(a.value), a.source.source_id, judge,
                                      a.rationale or ""))
    return out


def write_corrected(found: Corrections, out_dir: Path) -> Path | None:
    """The eval set with corrected gold and an experiment file for `rescore --experiment`; None without an experiment."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = out_dir / CORRECTED_ITEMS
    found.items.rename(columns={"item_id": "id", "gold": "label"}).to_csv(items, index=False)
    if found.experiment is None:
        return None
    experiment = dict(found.experiment)
    eval_set = dict(experiment.get("eval_set") or {})
    experiment["eval_set"] = {
        "path": str(items.resolve()), "name": eval_set.get("name") or (found.record.evalset.name if found.record else None),
        "columns": {"id": "id", "text": "text", "label": "label", "slices": found.slices},
        **{k: eval_set[k] for k in ("strata", "prevalence", "license") if eval_set.get(k) is not None}}
    if found.record is not None:  # the policies where the run found them, whatever folder rescore runs from
        for key, label in (("policy", found.record.candidate), ("baseline", found.record.baseline)):
            policy_path = found.record.policies[label].path if label else None
            if policy_path and Path(policy_path).exists():
                experiment[key] = str(Path(policy_path).resolve())
    path = out_dir / CORRECTED_EXPERIMENT
    path.write_text(yaml.safe_dump({k: v for k, v in experiment.items() if v is not None}, sort_keys=False,
                                   allow_unicode=True), encoding="utf-8")
    return path

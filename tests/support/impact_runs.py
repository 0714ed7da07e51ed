"""A run with planted decision counts per language, for the impact forecast's known-answer tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.labels import BENIGN
from harness.metrics import compute_metrics
from harness.pipeline.finish import policy_summary
from harness.record import EvalSetSummary, LLMParams, MlflowIds, RunRecord, write_record
from harness.verdicts import ACTIONED, ALLOWED, Verdict, verdict_table
from support.record_factory import policies


@dataclass(frozen=True)
class Planted:
    """Per gold class of one language: items, actioned by the candidate, by the baseline, by both."""

    benign: tuple[int, int, int, int]
    violating: tuple[int, int, int, int]


# de: candidate over-enforces 12/100 (baseline 6/100, 5 of them shared); leaks 10/50 (baseline 15/50).
PLANTED = {"de": Planted(benign=(100, 12, 6, 5), violating=(50, 40, 35, 33)),
           "en": Planted(benign=(200, 10, 8, 6), violating=(80, 72, 64, 60))}


def _decisions(n: int, cand: int, base: int, both: int) -> list[tuple[bool, bool]]:
    rows = [(True, True)] * both + [(True, False)] * (cand - both) + [(False, True)] * (base - both)
    return rows + [(False, False)] * (n - len(rows))


def planted_run(root: Path, planted: dict[str, Planted] | None = None, *, scores: bool = True,
                mlflow: dict[str, str] | None = None) -> Path:
    """Write the run to root/run: reviewer 'llm' (reads the policy) under v2 (candidate) and v1; scores
    (when asked) of 0.9 on actioned items and 0.6 or 0.1 on allowed violating and benign ones; `mlflow`
    the record's MLflow ids, as a tracked run has them."""
    candidate, baseline = policies()
    items: list[dict[str, object]] = []
    cand: list[Verdict] = []
    base: list[Verdict] = []
    for language, counts in (planted or PLANTED).items():
        for gold, spec in ((BENIGN, counts.benign), ("HS", counts.violating)):
            for i, (c, b) in enumerate(_decisions(*spec)):
                item = f"{language}-{gold}-{i}"
                items.append({"item_id": item, "text": f"text {item}", "gold": gold, "weight": 1.0,
                              "contested": False, "language": language})
                for out, acted in ((cand, c), (base, b)):
                    score = 0.9 if acted else (0.6 if gold != BENIGN else 0.1)
                    out.append(Verdict(item, ACTIONED if acted else ALLOWED, score=score if scores else None))
    frame = pd.DataFrame(items)
    verdicts = pd.concat([verdict_table(cand, policy=candidate.label, reviewer="llm"),
                          verdict_table(base, policy=baseline.label, reviewer="llm")], ignore_index=True)
    joined = verdicts.merge(frame, on="item_id", how="left")
    metrics = compute_metrics(joined, candidate=candidate.label, baseline=baseline.label,
                              categories=candidate.category_ids, slices=["language"], gates={})
    record = RunRecord(
        name="planted", experiment={"name": "planted"},
        policies={p.label: policy_summary(p) for p in (candidate, baseline)}, candidate=candidate.label,
        baseline=baseline.label,
        evalset=EvalSetSummary(name="planted", source="tests/support/impact_runs.py", sha256="0" * 64,
                               items=len(frame), slices=["language"], license=None, label_counts={}),
        reviewers={"llm": LLMParams(model="local/toy-model")}, verdicts=joined, metrics=metrics, items=frame,
        created_at="2026-01-01T00:00:00+00:00", mlflow=MlflowIds(**(mlflow or {})))
    write_record(record, root / "run")
    return root / "run"

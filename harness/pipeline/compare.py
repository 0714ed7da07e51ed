"""`compare A B`: paired comparison of two stored runs (output directories or MLflow run ids)."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.metrics import paired_comparison
from harness.metrics.counts import COUNT
from harness.metrics.samples import majority
from harness.record import (
    ITEMS,
    METRICS,
    RECORD,
    REPORT,
    VERDICTS,
    ComparedRun,
    ComparisonResult,
    Coverage,
    GateResult,
    ReviewerComparison,
    atomic_write_text,
    write_json,
)
from harness.verdicts import USAGE_COLUMNS, VERDICT_COLUMNS


@dataclass(frozen=True)
class Side:
    """One run of a comparison as loaded: its candidate's verdicts and what its page shows of it."""

    run: ComparedRun
    verdicts: pd.DataFrame
    gates: dict[str, list[GateResult]] = field(default_factory=dict)  # per reviewer; run directories only
    reads_policy: dict[str, bool] = field(default_factory=dict)


def load_side(source: str) -> Side:
    """A run directory's candidate verdicts, gates and reviewers, or an MLflow child run's verdicts."""
    path = Path(source)
    if path.is_dir():
        from harness.record import read_record

        record = read_record(path)
        verdicts = record.verdicts[record.verdicts["policy"] == record.candidate]
        run = ComparedRun(source=source, label=f"{record.name} ({record.candidate})",
                          run_id=record.mlflow.parent_run_id, policy=record.candidate, created_at=record.created_at)
        return Side(run, verdicts, gates={name: list(m.gates) for name, m in record.metrics.reviewers.items()},
                    reads_policy={name: p.reads_policy for name, p in record.reviewers.items()})
    label, verdicts = load_verdicts(source)
    policies = sorted(map(str, verdicts["policy"].unique())) if "policy" in verdicts else []
    return Side(ComparedRun(source=source, label=label, run_id=source,
                            policy=policies[0] if len(policies) == 1 else None), verdicts)


def load_verdicts(source: str) -> tuple[str, pd.DataFrame]:
    """Per-item verdicts of a run's candidate policy: from a run directory or an MLflow run id."""
    path = Path(source)
    if path.is_dir():
        from harness.record import read_record

        record = read_record(path)
        verdicts = record.verdicts[record.verdicts["policy"] == record.candidate]
        return f"{record.name} ({record.candidate})", verdicts
    if path.exists():
        raise HarnessError("is a file, not a run directory; give a directory written by 'run' or an MLflow run id.", path=source)
    # A typo must not open (and so create) an MLflow store: only a well-formed run id reaches it.
    if _looks_like_path(source):
        raise HarnessError(f"no run directory {source}; give a directory written by 'run' or an MLflow run id.")
    if not _RUN_ID.fullmatch(source):
        raise HarnessError(f"'{source}' is neither a run directory nor an MLflow run id (32 hex characters); "
                           "give a directory written by 'run' or a child run id from 'policy-harness runs'.")
    from harness.tracking.queries import run_verdicts

    return run_verdicts(source)


_RUN_ID = re.compile(r"[0-9a-f]{32}")
_RUN_FILES = (RECORD, METRICS, VERDICTS, ITEMS, REPORT)


def _looks_like_path(source: str) -> bool:
    """Whether a compare source was meant as a run directory (a separator, a leading '.', a run file)."""
    return (any(sep in source for sep in ("/", "\\", os.sep)) or source.startswith(".")
            or source.endswith(_RUN_FILES))


def compare(a: str, b: str) -> ComparisonResult:
    side_a, side_b = load_side(a), load_side(b)
    before, after = majority(side_a.verdicts), majority(side_b.verdicts)
    reviewers = sorted(set(before["reviewer"]) & set(after["reviewer"]))
    if not reviewers and before["reviewer"].nunique() == 1 and after["reviewer"].nunique() == 1:
        reviewers = [str(after["reviewer"].iloc[0])]
        before = before.assign(reviewer=reviewers[0])
    if not reviewers:
        raise HarnessError(f"runs {a} and {b} share no reviewer name (A: {sorted(set(before['reviewer']))}, "
                           f"B: {sorted(set(after['reviewer']))}); compare runs of the same reviewer.")
    slices = [c for c in before.columns if c in after.columns and c not in _NOT_SLICES]
    compared: dict[str, ReviewerComparison] = {}
    for reviewer in reviewers:
        x = before[before["reviewer"] == reviewer]
        y = after[after["reviewer"] == reviewer]
        coverage, common = _coverage(x, y)
        if not common:
            raise HarnessError(f"runs {a} and {b} have no items in common for reviewer '{reviewer}'; "
                               "they were run on different eval sets.")
        paired = paired_comparison(x[x["item_id"].isin(common)], y[y["item_id"].isin(common)], slices)
        compared[reviewer] = ReviewerComparison(
            **dict(paired), coverage=coverage, gates_a=side_a.gates.get(reviewer), gates_b=side_b.gates.get(reviewer),
            reads_policy=_reads_policy(side_a, side_b, reviewer))
    return ComparisonResult(a=side_a.run, b=side_b.run,
                            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                            reviewers=compared)


def _reads_policy(a: Side, b: Side, reviewer: str) -> bool | None:
    """Whether the reviewer reads the policy text, as either run recorded it (True if either says so)."""
    said = [side.reads_policy[reviewer] for side in (a, b) if reviewer in side.reads_policy]
    return any(said) if said else None


# Verdict columns that are not slices: gold_unknown (multi-label sets) and a collapsed log's row count
# would otherwise be compared slice by slice and join the Holm family of slice tests.
_NOT_SLICES = {*VERDICT_COLUMNS, *USAGE_COLUMNS, "gold", "gold_unknown", "text", "weight", "contested", COUNT, "parallel_id"}


def _coverage(x: pd.DataFrame, y: pd.DataFrame) -> tuple[Coverage, set[str]]:
    """The coverage of one reviewer's two runs, and the ids of the items both judged."""
    ids_x, ids_y = set(x["item_id"]), set(y["item_id"])
    common = ids_x & ids_y
    merged = x[["item_id", "text", "gold"]].merge(y[["item_id", "text", "gold"]], on="item_id")
    coverage = Coverage(common=len(common), only_in_a=len(ids_x - ids_y), only_in_b=len(ids_y - ids_x),
                        text_changed=int((merged["text_x"] != merged["text_y"]).sum()),
                        gold_changed=int((merged["gold_x"] != merged["gold_y"]).sum()))
    return coverage, common


def write_comparison(result: ComparisonResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # Unset defaults stay out so compare.json keeps its keys: only per-slice changes carry `p_adjusted`.
    write_json(out_dir / "compare.json", result.model_dump(mode="json"))
    from harness.reporting.compare import render_comparison_html

    atomic_write_text(out_dir / "compare.html", render_comparison_html(result))

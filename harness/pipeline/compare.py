"""`compare A B`: paired comparison of two stored runs (output directories or MLflow run ids)."""

from __future__ import annotations

import datetime as dt
import os
import re
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
    ReviewerComparison,
    atomic_write_text,
    write_json,
)
from harness.verdicts import VERDICT_COLUMNS


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
    label_a, before = load_verdicts(a)
    label_b, after = load_verdicts(b)
    before, after = majority(before), majority(after)
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
        compared[reviewer] = ReviewerComparison(**dict(paired), coverage=coverage)
    return ComparisonResult(a=ComparedRun(source=a, label=label_a), b=ComparedRun(source=b, label=label_b),
                            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            reviewers=compared)


# Verdict columns that are not slices: gold_unknown (multi-label sets) and a collapsed log's row count
# would otherwise be compared slice by slice and join the Holm family of slice tests.
_NOT_SLICES = {*VERDICT_COLUMNS, "gold", "gold_unknown", "text", "weight", "contested", COUNT}


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

"""What the session-wide record schema check (conftest.py), the tests that opt out of it and the record
tests share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.record import RunRecord

# A directory holding this file keeps record files a test wrote wrong on purpose (another schema
# version, a torn write) out of the session-wide schema check.
NOT_A_RECORD = ".not-a-record"

ROWS = [("a", "HS", "HS", "x"), ("b", "benign", "HS", "x"), ("c", "benign", "benign", "y"), ("d", "HS", "benign", "y"),
        ("e", "HS", "HS", "y"), ("f", "benign", "benign", "x"), ("g", "", "HS", "x"), ("h", "", "benign", "y"),
        ("i", "", "benign", "x")]


def scored_run(tmp_path: Path) -> tuple[RunRecord, Path]:
    """A real record: decisions scored against gold, with unlabelled rows for the prediction-powered block."""
    from harness.pipeline.score import score_file  # here: conftest imports this module for NOT_A_RECORD
    from harness.record import write_record

    source = tmp_path / "decisions.csv"
    source.write_text("id,gold,model,lang\n" + "".join(f"{','.join(r)}\n" for r in ROWS), encoding="utf-8")
    record = score_file(str(source), gold="gold", preds=["model"], slices=["lang"], id_column="id")
    out = tmp_path / "run"
    write_record(record, out)
    return record, out

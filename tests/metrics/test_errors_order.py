"""Error exemplars come in natural id order: numeric ids as numbers, then other ids as text."""

from __future__ import annotations

import pandas as pd

from harness.metrics.errors import KINDS, exemplar_set


def test_numeric_ids_sort_as_numbers_before_other_ids() -> None:
    ids = ["10", "9", "b", "100", "a", "011"]
    frame = pd.DataFrame({"item_id": ids, "gold": ["benign"] * len(ids), "decision": ["actioned"] * len(ids)})
    chosen = exemplar_set(frame, KINDS[0], [], budget=10)
    assert [e.item_id for e in chosen.items] == ["9", "10", "011", "100", "a", "b"]
    assert chosen.total == len(ids)

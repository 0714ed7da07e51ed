"""`hf:<name>[:split]` goes through datasets.load_dataset: tested on a local dataset folder (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import EvalSetConfig
from harness.errors import HarnessError
from harness.evalset import load_evalset

LABELS = {"hateful": "HS", "non-hateful": "benign"}


def test_hub_path_loads_a_dataset_folder_with_split(tmp_path: Path) -> None:
    folder = tmp_path / "my-set"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\nhello there,non-hateful\nthey are vermin,hateful\n", encoding="utf-8")
    (folder / "test.csv").write_text("text,label\nonly one,non-hateful\n", encoding="utf-8")
    train = load_evalset(EvalSetConfig(path=f"hf:{folder}:train", labels=LABELS))
    test = load_evalset(EvalSetConfig(path=f"hf:{folder}:test", labels=LABELS))
    assert len(train) == 2 and train.label_counts == {"benign": 1, "HS": 1}
    assert len(test) == 1
    assert train.sha256 != test.sha256


def test_unknown_hub_set_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(HarnessError, match="could not load 'no-such-org/no-such-set' from the Hugging Face hub"):
        load_evalset(EvalSetConfig(path="hf:no-such-org/no-such-set", labels=LABELS))

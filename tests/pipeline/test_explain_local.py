"""`explain` with the embedded model: verdicts decided by the first answer token, then the whole answer
generated for a few quick-start items, once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import harness
from harness._cli.main import main
from harness.config import parse_experiment

pytest.importorskip("llama_cpp", reason="the local extra is not installed (pip install '.[local]')")
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_embedded_model_explains_its_first_token_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    items = pd.read_csv(REPO / "eval_sets/quickstart/items.csv").head(3)
    items.to_csv(tmp_path / "items.csv", index=False)
    experiment = parse_experiment({
        "name": "local-explain", "policy": str(REPO / "prompts/policies/hate_speech/v2.md"),
        "eval_set": {"path": str(tmp_path / "items.csv"), "columns": {"id": "id"},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "smollm2", "type": "llm", "model": "local/smollm2", "max_tokens": 80,
                       "concurrency": 1, "timeout_s": 300}]})
    record = harness.run(experiment, out_dir=tmp_path / "out", track=False)
    assert (record.verdicts["rationale"].fillna("") == "").all()  # first-token verdicts: no rationale

    args = ["explain", str(tmp_path / "out"), *(f"--item={i}" for i in items["id"])]
    assert main(args) == 0
    out = capsys.readouterr().out
    explained = [line for line in out.splitlines() if line.startswith("qs-")]
    assert [line.split()[0] for line in explained] == list(items["id"])
    assert "3 explained (3 model calls, 0 from the judgement cache)" in out
    stored = harness.record.read_record(tmp_path / "out").explanations
    assert stored is not None and len(stored.items) == 3
    assert all(e.verdict_score is not None for e in stored.items)
    assert any(e.rationale for e in stored.items), [e.abstain_reason for e in stored.items]

    assert main(args) == 0
    assert "3 explained (0 model calls, 3 from the judgement cache)" in capsys.readouterr().out

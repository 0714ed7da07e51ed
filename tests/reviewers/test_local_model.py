"""The managed local model (SmolLM2 under llama.cpp's server) judged over real HTTP via litellm."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import harness
from harness.config import parse_experiment
from harness.providers.local_model import LocalModelServer

pytest.importorskip("llama_cpp", reason="the local extra is not installed (pip install '.[local]')")
REPO = Path(__file__).resolve().parents[2]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_local_model_server_starts_and_stops() -> None:
    server = LocalModelServer("local/smollm2").start()
    port = server.port
    assert _port_open(port)
    server.stop()
    assert not _port_open(port)


@pytest.mark.slow
def test_smollm2_reviewer_judges_every_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    items = tmp_path / "items.csv"
    items.write_text("id,text,label\n1,I love my neighbours.,non-hateful\n"
                     "2,Those people are vermin and should be removed.,hateful\n"
                     "3,The referee is a clown.,non-hateful\n", encoding="utf-8")
    experiment = parse_experiment({
        "name": "local", "policy": str(REPO / "prompts/policies/hate_speech/v2.md"),
        "eval_set": {"path": str(items), "columns": {"id": "id"}, "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "smol", "type": "llm", "model": "local/smollm2", "max_tokens": 48,
                       "concurrency": 1, "prompt": str(REPO / "harness/reviewers/prompt_templates/reviewer_v1.md")}],
    })
    record = harness.run(experiment, out_dir=tmp_path / "out", track=False)
    verdicts = record.verdicts
    assert sorted(verdicts["item_id"]) == ["1", "2", "3"]
    assert set(verdicts["decision"]) <= {"actioned", "allowed", "abstained"}
    abstained = verdicts[verdicts["decision"] == "abstained"]
    assert (abstained["abstain_reason"].str.len() > 0).all()
    assert record.usage["smol"].cost_usd == 0.0
    assert record.usage["smol"].calls == 3
    again = harness.run(experiment, out_dir=tmp_path / "out2", track=False)
    assert again.usage["smol"].calls == 0 and again.usage["smol"].cached == 3
    assert again.verdicts["decision"].tolist() == verdicts["decision"].tolist()


@pytest.mark.slow
def test_smollm2_decides_by_its_first_answer_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    items = tmp_path / "items.csv"
    items.write_text("id,text,label\n1,I love my neighbours.,non-hateful\n"
                     "2,Those people are vermin and should be removed.,hateful\n"
                     "3,The referee is a clown.,non-hateful\n4,Go back where you came from.,hateful\n", encoding="utf-8")

    def run(out: str, **settings: object) -> harness.RunRecord:
        experiment = parse_experiment({
            "name": "local", "policy": str(REPO / "prompts/policies/hate_speech/v2.md"),
            "eval_set": {"path": str(items), "columns": {"id": "id"},
                         "labels": {"hateful": "HS", "non-hateful": "benign"}},
            "reviewers": [{"name": "smol", "type": "llm", "model": "local/smollm2", "concurrency": 1, **settings}]})
        return harness.run(experiment, out_dir=tmp_path / out, track=False)

    record = run("out")
    verdicts = record.verdicts
    assert sorted(verdicts["item_id"]) == ["1", "2", "3", "4"] and (verdicts["decision"] != "abstained").all()
    assert set(verdicts["score_source"]) == {"logprobs"} and verdicts["score"].between(0, 1).all()
    # one generated token per item: the decision, read from its alternatives
    assert record.usage["smol"].completion_tokens == 4
    assert ((verdicts["score"] >= 0.5) == (verdicts["decision"] == "actioned")).all()
    strict = run("strict", threshold=float(verdicts["score"].max()) + 1e-9)  # above every score: allows all
    assert strict.usage["smol"].calls == 0  # the threshold is applied to cached scores
    assert (strict.verdicts["decision"] == "allowed").all()

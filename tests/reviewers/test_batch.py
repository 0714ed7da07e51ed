"""Batch mode of the LLM reviewer end to end over loopback HTTP against the fake files-and-batches server:
same verdicts as online, file splitting, every fault mode, cache reuse, budget, estimate and config errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.llm import LABELS, V2, experiment, fast_backoff, write_items

import harness
from harness.config import LLMReviewerConfig, Price
from harness.errors import HarnessError
from harness.testing.batch_server import FakeBatchServer

pytestmark = pytest.mark.usefixtures("cache_path")

PRICE = {"input_per_million": 1000.0, "output_per_million": 2000.0}
ROWS = [
    ("v1", "they are VIOLATE vermin", "hateful"),
    ("v2", "VIOLATE again", "hateful"),
    ("v3", "VIOLATE but benign by gold", "non-hateful"),
    ("b1", "a sunny day", "non-hateful"),
    ("b2", "nice coffee", "non-hateful"),
    ("l1", "coded hate the model misses", "hateful"),
    ("g", "FAULT:garbage hateful text", "hateful"),
    ("r", "FAULT:refusal hateful text", "hateful"),
]


@pytest.fixture
def batch_server() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(in_progress_polls=1) as srv:
        yield srv


def batch(**overrides: Any) -> dict[str, Any]:
    return {"batch": True, "poll_s": 0.02, **overrides}


def decisions(record: harness.RunRecord) -> dict[str, tuple[str, str]]:
    return {row.item_id: (row.decision, row.abstain_reason) for row in record.verdicts.itertuples()}


def run(tmp_path: Path, rows: list[tuple[str, str, str]], api_base: str, out: str = "out",
        **overrides: Any) -> harness.RunRecord:
    items = write_items(tmp_path / "items.csv", rows)
    return harness.run(experiment(items, api_base, **overrides), out_dir=tmp_path / out, track=False)


# --- happy path ---------------------------------------------------------------------------------

def test_batch_verdicts_equal_the_online_ones(tmp_path: Path, batch_server: FakeBatchServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    batched = run(tmp_path, ROWS, batch_server.base_url, "batch", **batch(price=PRICE))
    assert batch_server.requests_log == []  # no chat call went online
    assert batch_server.batch_stats["batches_created"] == 1
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "other-cache.sqlite"))
    online = run(tmp_path, ROWS, batch_server.base_url, "online", price=PRICE)
    assert decisions(batched) == decisions(online)
    assert decisions(batched)["v1"][0] == "actioned" and decisions(batched)["b1"][0] == "allowed"
    assert decisions(batched)["g"][0] == "abstained"  # parse_verdict, as online
    # The same requests, the batch bodies exactly the online ones.
    body = next(b for b in (line["body"] for line in batch_server.batch_lines()) if "VIOLATE vermin" in str(b))
    online_body = next(r.body for r in batch_server.requests_log if "VIOLATE vermin" in str(r.body))
    assert body == online_body
    b, o = batched.usage["fake"], online.usage["fake"]
    assert (b.calls, b.prompt_tokens, b.completion_tokens, b.batches) == (o.calls, o.prompt_tokens,
                                                                          o.completion_tokens, 1)
    assert b.cost_usd == pytest.approx(o.cost_usd * 0.5)  # batch price = online price x batch_discount
    assert b.cost_usd == pytest.approx(Price(**PRICE).cost(b.prompt_tokens, b.completion_tokens) * 0.5)


def test_a_later_online_run_reuses_the_batch_answers(tmp_path: Path, batch_server: FakeBatchServer) -> None:
    first = run(tmp_path, ROWS, batch_server.base_url, "batch", **batch())
    second = run(tmp_path, ROWS, batch_server.base_url, "online")
    assert batch_server.requests_log == []  # every answer came from the cache
    assert second.usage["fake"].cached == len(ROWS) and second.usage["fake"].calls == 0
    assert decisions(second) == decisions(first)


def test_files_are_split_under_the_line_and_byte_limits(tmp_path: Path, batch_server: FakeBatchServer,
                                                         cache_path: Path) -> None:
    rows = [(f"i{i}", f"text {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful")
            for i in range(7)]
    record = run(tmp_path, rows, batch_server.base_url, **batch(batch_max_lines=3))
    assert batch_server.batch_stats["lines_per_batch"] == [3, 3, 1]
    assert record.usage["fake"].batches == 3 and not (record.verdicts["decision"] == "abstained").any()
    size = len(next(iter(batch_server.input_files().values())).splitlines()[0]) + 1
    batch_server2 = FakeBatchServer()
    with batch_server2:
        cache_path.unlink()
        run(tmp_path, rows, batch_server2.base_url, "bytes", **batch(batch_max_bytes=2 * size + 100))
        assert batch_server2.batch_stats["lines_per_batch"] == [2, 2, 2, 1]
        assert all(len(content) <= 2 * size + 100 for content in batch_server2.input_files().values())


# --- faults -------------------------------------------------------------------------------------

FAULT_ROWS = [
    ("ok", "VIOLATE fine", "hateful"),
    ("t500", "FAULT:batch_500 VIOLATE", "hateful"),
    ("p400", "FAULT:batch_400 hello", "non-hateful"),
    ("gone", "FAULT:batch_missing hello", "non-hateful"),
]


def test_error_and_missing_lines_are_resubmitted_once_then_abstained(tmp_path: Path,
                                                                      batch_server: FakeBatchServer) -> None:
    record = run(tmp_path, FAULT_ROWS, batch_server.base_url, **batch())
    got = decisions(record)
    assert got["ok"] == ("actioned", "")
    assert got["p400"] == ("abstained", "batch line error 400: injected 400")  # permanent: not resubmitted
    assert got["t500"] == ("abstained", "batch line error 500: injected 500 (after one resubmission)")
    assert got["gone"] == ("abstained", "missing from the completed batch (after one resubmission)")
    log = batch_server.batch_log
    assert len(log) == 2 and len(log[1]["custom_ids"]) == 2  # one follow-up with the transient and missing lines
    assert batch_server.batch_stats["max_submissions_per_line"] == 2
    assert record.usage["fake"].abstained == 3 and record.usage["fake"].calls == 1


def test_a_transient_failure_that_clears_is_answered_and_abstentions_are_retried_later(
        tmp_path: Path, cache_path: Path) -> None:
    with FakeBatchServer(line_faults_once=True) as srv:
        record = run(tmp_path, FAULT_ROWS, srv.base_url, **batch())
        got = decisions(record)
        assert got["t500"][0] == "actioned" and got["gone"][0] == "allowed"
        assert got["p400"][0] == "abstained"
        # The abstention was not cached: the next run sends exactly that line again (and now it passes).
        again = run(tmp_path, FAULT_ROWS, srv.base_url, "again", **batch())
        assert len(srv.batch_log[-1]["custom_ids"]) == 1 and again.usage["fake"].cached == 3
        assert decisions(again)["p400"][0] == "allowed"


@pytest.mark.parametrize("fault, reason", [("fail_batches", "batch failed: injected batch failure"),
                                           ("expire_batches", "batch expired")])
def test_a_batch_that_fails_or_expires_has_its_unfinished_lines_resubmitted_once(
        tmp_path: Path, fault: str, reason: str) -> None:
    rows = [(f"i{i}", f"text {i} VIOLATE", "hateful") for i in range(4)]
    with FakeBatchServer(**{fault: 1}) as srv:
        record = run(tmp_path, rows, srv.base_url, **batch())
        assert not (record.verdicts["decision"] == "abstained").any()
        done_first = 2 if fault == "expire_batches" else 0  # an expired batch finished half its lines
        assert [len(b["custom_ids"]) for b in srv.batch_log] == [4, 4 - done_first]
    with FakeBatchServer(**{fault: 2}) as srv:
        record = run(tmp_path, [(i, t.replace("text", "other"), g) for i, t, g in rows], srv.base_url, "twice",
                     **batch())
        abstained = record.verdicts[record.verdicts["decision"] == "abstained"]
        assert len(abstained) == (4 if fault == "fail_batches" else 1)
        assert set(abstained["abstain_reason"]) == {f"{reason} (after one resubmission)"}
        assert srv.batch_stats["max_submissions_per_line"] == 2


def test_a_line_with_an_unknown_custom_id_is_ignored_with_a_warning(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    with FakeBatchServer(unknown_line=True) as srv:
        record = run(tmp_path, ROWS[:3], srv.base_url, **batch())
    assert len(record.verdicts) == 3 and "nobody-sent-this" in caplog.text and "never sent" in caplog.text


def test_a_rejected_key_is_one_line_naming_the_endpoint(tmp_path: Path) -> None:
    with FakeBatchServer(require_api_key="sk-right") as srv:
        with pytest.raises(HarnessError, match=r"could not upload a batch file for reviewer 'fake' \(401"):
            run(tmp_path, ROWS[:2], srv.base_url, **batch())
        assert srv.batch_stats["batches_created"] == 0


# --- budget, estimate, config -------------------------------------------------------------------

def test_the_budget_cuts_the_batch_to_what_fits_at_worst_case(tmp_path: Path, batch_server: FakeBatchServer) -> None:
    rows = [(f"i{i}", f"item number {i}", "non-hateful") for i in range(10)]
    items = write_items(tmp_path / "items.csv", rows)
    exp = experiment(items, batch_server.base_url, **batch(price=PRICE, max_cost_usd=1.0, max_tokens=100))
    record = harness.run(exp, out_dir=tmp_path / "out", track=False)
    lines = batch_server.batch_stats["lines_per_batch"]
    assert len(lines) == 1 and 0 < lines[0] < 10
    assert record.incomplete and "budget of $1.00" in record.incomplete_reason
    assert len(record.verdicts) == lines[0] and record.usage["fake"].cost_usd <= 1.0


def experiment_file(tmp_path: Path, api_base: str, **reviewer: Any) -> Path:
    items = write_items(tmp_path / "items.csv", ROWS[:4])
    settings = {"name": "fake-llm", "type": "llm", "model": "openai/fake-model", "api_base": api_base, **reviewer}
    data = {"name": "batch", "policy": str(V2),
            "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                         "labels": LABELS},
            "reviewers": [{key: value for key, value in settings.items() if value is not None}]}
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLICY_HARNESS_CACHE": str(tmp_path / "cli-cache.sqlite"), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_estimate_shows_the_batch_price_beside_the_online_one(tmp_path: Path, batch_server: FakeBatchServer) -> None:
    result = cli(tmp_path, "estimate", str(experiment_file(tmp_path, batch_server.base_url, price=PRICE,
                                                           batch_discount=0.4)))
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "fake-llm" in line)
    online, batch_cost = (float(part.split("$")[1].split()[0].rstrip(",")) for part in line.split(" online, "))
    assert batch_cost == pytest.approx(online * 0.4, abs=1e-4) and online > 0
    assert batch_server.stats["requests"] == 0


@pytest.mark.parametrize("reviewer, message", [
    ({"model": "local/qwen2.5-0.5b-instruct", "api_base": None, "batch": True},  # None: key left out
     "reviewer 'fake-llm' sets batch: true but the local model server has no batch API"),
    ({"batch": True, "batch_window": "1d"}, "'batch_window' must be a whole number of hours"),
    ({"model": "anthropic/claude", "api_base": None, "batch": True},
     "no batch API is known for model 'anthropic/claude'; set 'batch_provider'"),
    ({"batch": True, "poll_s": 0}, "poll_s"),
])
def test_batch_settings_that_cannot_work_are_one_line_errors(tmp_path: Path, reviewer: dict[str, Any],
                                                             message: str) -> None:
    result = cli(tmp_path, "validate", str(experiment_file(tmp_path, **{"api_base": "http://127.0.0.1:9/v1", **reviewer})))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_the_batch_provider_follows_the_model() -> None:
    def provider(model: str, **extra: Any) -> str | None:
        return LLMReviewerConfig(type="llm", name="r", model=model, batch=True, **extra).batch_provider

    assert provider("openai/gpt-4o-mini") == "openai"
    assert provider("hosted_vllm/x", api_base="http://127.0.0.1:8000/v1") == "openai"
    assert provider("azure/my-deployment") == "azure"
    assert provider("vertex_ai/gemini-2.0-flash") == "vertex_ai"
    assert provider("bedrock/anthropic.claude-3") == "bedrock"
    assert LLMReviewerConfig(type="llm", name="r", model="gpt-4o").batch_provider is None  # batch off: no check


def test_a_recorded_batch_the_provider_no_longer_knows_is_resubmitted_once(
        tmp_path: Path, batch_server: FakeBatchServer, cache_path: Path) -> None:
    from harness.pipeline.run import load_inputs
    from harness.reviewers.cache import BatchRecord, JudgementCache
    from harness.reviewers.llm import LLMReviewer

    exp = experiment(write_items(tmp_path / "items.csv", ROWS[:3]), batch_server.base_url, **batch())
    candidate, _, evalset = load_inputs(exp)
    _, jobs = LLMReviewer(exp.reviewers[0], base_dir=Path(exp.base_dir)).plan(evalset.items, candidate)
    cache = JudgementCache(cache_path)
    cache.record_batch(BatchRecord("batch_gone", "file-gone", "openai", batch_server.base_url,
                                   tuple(key for *_, key in jobs), 0.0, 1))
    cache.close()
    record = harness.run(exp, out_dir=tmp_path / "out", track=False)
    assert [len(b["custom_ids"]) for b in batch_server.batch_log] == [3]  # polled (404), then resubmitted once
    assert not (record.verdicts["decision"] == "abstained").any()
    cache = JudgementCache(cache_path)
    try:
        assert cache.live_batches("openai", batch_server.base_url) == []
    finally:
        cache.close()


def test_a_create_whose_answer_was_lost_is_found_not_made_again(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    with FakeBatchServer(in_progress_polls=1, lose_create_responses=1) as srv:
        record = run(tmp_path, ROWS[:4], srv.base_url, **batch())
        stats = srv.batch_stats
    assert stats["batches_created"] == 1 and stats["max_submissions_per_line"] == 1  # the lost one, adopted
    assert not (record.verdicts["decision"] == "abstained").any()


def test_the_reviewers_extra_headers_go_on_every_files_and_batches_call(tmp_path: Path,
                                                                        batch_server: FakeBatchServer) -> None:
    run(tmp_path, ROWS[:2], batch_server.base_url, **batch(params={"extra_headers": {"X-Route": "team-a"}}))
    calls = batch_server.api_calls
    assert len(calls) >= 4  # upload, create, retrieve, output file
    # litellm sends no extra headers when it downloads a file's content from an OpenAI-compatible server.
    assert all(headers.get("x-route") == "team-a" for call, headers in calls if not call.endswith("/content"))


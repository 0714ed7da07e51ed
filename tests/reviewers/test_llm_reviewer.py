"""LLM reviewer end to end over real loopback HTTP against the fault-injecting OpenAI-compatible server:
abstentions with reasons, the judgement cache (re-runs, resume after kill -9), samples, budget, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from support.llm import REPO_ROOT, V2, experiment, fast_backoff, item_text, write_items

import harness
from harness.reviewers.cache import JudgementCache
from harness.testing.openai_server import FakeOpenAIServer

DECIDED = ["item_id", "decision", "categories", "rule_ids", "confidence", "rationale", "abstain_reason"]


pytestmark = pytest.mark.usefixtures("cache_path")


def cached(path: Path) -> int:
    cache = JudgementCache(path)
    try:
        return len(cache)
    finally:
        cache.close()


def by_item(record: harness.RunRecord) -> dict[str, pd.Series]:
    return {row.item_id: row for row in record.verdicts.itertuples()}


# --- end to end ------------------------------------------------------------------------------

E2E_ROWS = [
    ("v1", "they are VIOLATE vermin", "hateful"),
    ("v2", "VIOLATE again", "hateful"),
    ("v3", "VIOLATE but benign by gold", "non-hateful"),  # over-enforcement
    ("b1", "a sunny day", "non-hateful"),
    ("b2", "nice coffee", "non-hateful"),
    ("l1", "coded hate the model misses", "hateful"),  # leakage
    ("g", "FAULT:garbage hateful text", "hateful"),
    ("r", "FAULT:refusal hateful text", "hateful"),
    ("e", "FAULT:500 VIOLATE benign text", "non-hateful"),
]


def test_every_item_gets_one_verdict_or_one_abstention_with_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> None:
    fast_backoff(monkeypatch)
    record = harness.run(experiment(write_items(tmp_path / "items.csv", E2E_ROWS), server.base_url),
                         out_dir=tmp_path / "out", track=False)
    verdicts = record.verdicts
    assert sorted(verdicts["item_id"]) == sorted(r[0] for r in E2E_ROWS)  # exactly one row per item
    assert ((verdicts["decision"] == "abstained") == (verdicts["abstain_reason"] != "")).all()
    v = by_item(record)
    assert {k: v[k].decision for k in ("v1", "v2", "v3")} == dict.fromkeys(("v1", "v2", "v3"), "actioned")
    assert {k: v[k].decision for k in ("b1", "b2", "l1")} == dict.fromkeys(("b1", "b2", "l1"), "allowed")
    assert v["v1"].categories == ["HS"] and v["v1"].rule_ids == ["HS1"]
    assert v["g"].decision == "abstained" and v["g"].abstain_reason.startswith("unparseable answer")
    assert v["r"].decision == "abstained" and v["r"].abstain_reason.startswith("refusal")
    assert v["e"].decision == "abstained"
    assert "server_error_500" in v["e"].abstain_reason and "after 2 retries" in v["e"].abstain_reason
    sent = Counter(item_text(logged) for logged in server.requests_log)
    assert sent["FAULT:500 VIOLATE benign text"] == 3  # first try + max_retries
    assert all(n == 1 for text, n in sent.items() if "FAULT:500" not in text)

    m = record.metrics.model_dump(mode="json")["reviewers"]["fake"]
    assert m["items"] == 9 and m["abstained"] == 3
    assert (m["abstention_rate"]["k"], m["abstention_rate"]["n"]) == (3, 9)
    # abstentions are out of both denominators, and never counted as allowed
    assert (m["leakage"]["k"], m["leakage"]["n"]) == (1, 3)
    assert (m["over_enforcement"]["k"], m["over_enforcement"]["n"]) == (1, 3)
    assert (m["false_action_share"]["k"], m["false_action_share"]["n"]) == (1, 3)
    usage = record.usage["fake"].model_dump()
    assert usage["abstained"] == 3 and usage["retries"] == 2 and usage["cost_usd"] is None
    on_disk = pd.read_parquet(tmp_path / "out" / "verdicts.parquet")
    assert len(on_disk) == 9 and (on_disk["decision"] == "abstained").sum() == 3


def test_dropped_connection_mid_run_is_an_abstention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     server: FakeOpenAIServer) -> None:
    fast_backoff(monkeypatch)
    rows = [("ok", "a sunny day", "non-hateful"), ("d", "FAULT:disconnect VIOLATE", "hateful")]
    record = harness.run(experiment(write_items(tmp_path / "items.csv", rows), server.base_url, concurrency=1),
                         out_dir=tmp_path / "out", track=False)
    v = by_item(record)
    assert v["ok"].decision == "allowed"
    assert v["d"].decision == "abstained" and "after 2 retries" in v["d"].abstain_reason
    assert server.stats["disconnects"] == 3
    assert record.metrics.model_dump(mode="json")["reviewers"]["fake"]["leakage"]["n"] == 0


def test_timeout_is_an_abstention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_backoff(monkeypatch)
    rows = [("ok", "VIOLATE", "hateful"), ("t", "FAULT:timeout", "hateful")]
    with FakeOpenAIServer(hang_s=3) as srv:
        record = harness.run(experiment(write_items(tmp_path / "items.csv", rows), srv.base_url,
                                        timeout_s=0.5, max_retries=1), out_dir=tmp_path / "out", track=False)
    v = by_item(record)
    assert v["ok"].decision == "actioned"
    assert v["t"].decision == "abstained" and v["t"].abstain_reason.startswith("timeout")


# --- cache -----------------------------------------------------------------------------------

CACHE_ROWS = [(f"i{i}", f"item number {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful")
              for i in range(6)]


def test_rerun_is_free_and_only_changes_are_paid(tmp_path: Path, server: FakeOpenAIServer, cache_path: Path) -> None:
    items = write_items(tmp_path / "items.csv", CACHE_ROWS)
    first = harness.run(experiment(items, server.base_url), out_dir=tmp_path / "out1", track=False)
    assert server.stats["requests"] == 6 and cached(cache_path) == 6

    server.reset_stats()
    second = harness.run(experiment(items, server.base_url), out_dir=tmp_path / "out2", track=False)
    assert server.stats["requests"] == 0
    assert second.usage["fake"].cached == 6 and second.usage["fake"].calls == 0
    pd.testing.assert_frame_equal(first.verdicts[DECIDED], second.verdicts[DECIDED])

    # a policy edit changes the system prompt for every item: every item is judged again
    edited = tmp_path / "v2-edited.md"
    edited.write_text(V2.read_text(encoding="utf-8") + "\nA clarifying sentence added in review.\n", encoding="utf-8")
    server.reset_stats()
    harness.run(experiment(items, server.base_url, policy=edited), out_dir=tmp_path / "out3", track=False)
    assert server.stats["requests"] == 6
    assert all("A clarifying sentence" in logged.body["messages"][0]["content"] for logged in server.requests_log)

    # an edited item: only that item is judged again
    changed = [(i, text + " (edited)" if i == "i3" else text, label) for i, text, label in CACHE_ROWS]
    server.reset_stats()
    harness.run(experiment(write_items(tmp_path / "items2.csv", changed), server.base_url),
                out_dir=tmp_path / "out4", track=False)
    assert [item_text(logged) for logged in server.requests_log] == ["item number 3 VIOLATE (edited)"]

    # a reviewer setting that changes answers is part of the key
    server.reset_stats()
    harness.run(experiment(items, server.base_url, temperature=0.3), out_dir=tmp_path / "out5", track=False)
    assert server.stats["requests"] == 6


def test_abstentions_from_errors_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                cache_path: Path) -> None:
    fast_backoff(monkeypatch)
    rows = [("a", "a sunny day", "non-hateful"), ("b", "VIOLATE", "hateful")]
    items = write_items(tmp_path / "items.csv", rows)
    with FakeOpenAIServer(script=["500"] * 6) as srv:  # every try of both items fails
        first = harness.run(experiment(items, srv.base_url), out_dir=tmp_path / "out1", track=False)
        assert set(first.verdicts["decision"]) == {"abstained"} and cached(cache_path) == 0
        srv.reset_stats()
        second = harness.run(experiment(items, srv.base_url), out_dir=tmp_path / "out2", track=False)
        assert srv.stats["requests"] == 2
    assert dict(zip(second.verdicts["item_id"], second.verdicts["decision"])) == {"a": "allowed", "b": "actioned"}


RUN_SCRIPT = """\
import json, sys
import harness
from harness.config import parse_experiment
harness.run(parse_experiment(json.load(open(sys.argv[1]))), out_dir=sys.argv[2], track=False)
"""


def test_resume_after_kill_does_not_pay_twice(tmp_path: Path, cache_path: Path) -> None:
    n = 30
    rows = [(f"i{i:02d}", f"text {i}" + (" VIOLATE" if i % 3 == 0 else ""), "hateful" if i % 3 == 0 else "non-hateful")
            for i in range(n)]
    items = write_items(tmp_path / "items.csv", rows)
    with FakeOpenAIServer(latency_ms=200) as srv:
        exp = experiment(items, srv.base_url, concurrency=2)
        config = tmp_path / "exp.json"
        data = exp.model_dump(mode="json")
        data["reviewers"][0]["prompt"] = str(REPO_ROOT / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md")
        config.write_text(json.dumps(data), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "POLICY_HARNESS_CACHE": str(cache_path)}
        proc = subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, str(config), str(tmp_path / "killed")],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while srv.stats["requests"] < 1 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            time.sleep(1.5)  # ~7 pairs of 200 ms requests, out of 15
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        done = cached(cache_path)
        assert 0 < done < n, f"{done} of {n} judgements cached at kill time"

        srv.reset_stats()
        resumed = experiment(items, srv.base_url, concurrency=8)  # concurrency is not part of the cache key
        record = harness.run(resumed, out_dir=tmp_path / "out", track=False)
        assert srv.stats["requests"] == n - done  # nothing already paid for is paid again
    assert record.usage["fake"].cached == done
    assert sorted(record.verdicts["item_id"]) == [r[0] for r in rows]
    assert not (record.verdicts["decision"] == "abstained").any()
    assert cached(cache_path) == n


# --- samples -----------------------------------------------------------------------------------

def test_samples_are_requested_and_cached_separately(tmp_path: Path, server: FakeOpenAIServer,
                                                     cache_path: Path) -> None:
    rows = CACHE_ROWS[:4]
    items = write_items(tmp_path / "items.csv", rows)
    record = harness.run(experiment(items, server.base_url, samples=3, temperature=0.7),
                         out_dir=tmp_path / "out1", track=False)
    assert server.stats["requests"] == 12 and cached(cache_path) == 12
    assert all(logged.body["temperature"] == 0.7 for logged in server.requests_log)
    verdicts = record.verdicts
    assert len(verdicts) == 12
    assert (verdicts.groupby("item_id")["sample"].apply(sorted) == pd.Series([[0, 1, 2]] * 4, index=sorted(
        r[0] for r in rows))).all()
    metrics = record.metrics.model_dump(mode="json")["reviewers"]["fake"]
    assert metrics["items"] == 4
    assert metrics["stability"]["samples"] == 3 and metrics["stability"]["mean_agreement"] == 1.0

    server.reset_stats()
    again = harness.run(experiment(items, server.base_url, samples=3, temperature=0.7),
                        out_dir=tmp_path / "out2", track=False)
    assert server.stats["requests"] == 0 and len(again.verdicts) == 12


# --- budget ------------------------------------------------------------------------------------

def test_unknown_price_is_reported_as_unknown_not_free(tmp_path: Path, server: FakeOpenAIServer) -> None:
    items = write_items(tmp_path / "items.csv", CACHE_ROWS)
    record = harness.run(experiment(items, server.base_url), out_dir=tmp_path / "out", track=False)
    assert not record.incomplete and len(record.verdicts) == 6
    usage = record.usage["fake"]
    assert usage.cost_usd is None and usage.cost_unknown_calls == 6
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["usage"]["fake"]["cost_usd"] is None


def test_budget_stops_the_run_and_keeps_what_was_paid(tmp_path: Path, server: FakeOpenAIServer,
                                                      cache_path: Path) -> None:
    # A model litellm's price table lists at $150 per million input tokens (~$0.14 per call with the v2
    # policy), served by the fake server: its price comes from the table, without a `price:` key.
    rows = [(f"i{i}", f"priced item {i}", "non-hateful") for i in range(10)]
    items = write_items(tmp_path / "items.csv", rows)
    exp = experiment(items, server.base_url, model="openai/o1-pro", concurrency=1, max_cost_usd=0.5)
    record = harness.run(exp, out_dir=tmp_path / "out", track=False)
    usage = record.usage["fake"]
    paid = server.stats["requests"]
    assert record.incomplete and "budget" in record.incomplete_reason
    assert usage.cost_usd is not None and usage.cost_usd <= 0.5  # calls in flight were reserved first
    assert 0 < len(record.verdicts) < 10 and len(record.verdicts) == paid == usage.calls
    assert cached(cache_path) == paid  # everything paid for is kept
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["incomplete"] is True

    server.reset_stats()
    rest = harness.run(experiment(items, server.base_url, model="openai/o1-pro"),
                       out_dir=tmp_path / "out2", track=False)
    assert server.stats["requests"] == 10 - paid and len(rest.verdicts) == 10 and not rest.incomplete


# --- secrets -----------------------------------------------------------------------------------

SECRET = "sk-test-SECRET-1234567890"


def test_api_key_is_sent_but_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MY_TEST_KEY", SECRET)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    name = "llm-secrets"
    MlflowClient(tracking_uri=tracking_uri).create_experiment(
        f"policy-harness/{name}", artifact_location=(tmp_path / "artifacts").as_uri())
    rows = E2E_ROWS[:4] + [("e", "FAULT:500 text", "hateful")]
    fast_backoff(monkeypatch)
    with FakeOpenAIServer(require_api_key=SECRET) as srv:
        exp = experiment(write_items(tmp_path / "items.csv", rows), srv.base_url, name=name,
                         api_key_env="MY_TEST_KEY", max_retries=1)
        record = harness.run(exp, out_dir=tmp_path / "out", track=True)
        log = srv.requests_log
    assert log and all(logged.has_authorization for logged in log)
    assert record.mlflow, "tracking failed, so the scan below would prove little"
    assert (record.verdicts["decision"] != "abstained").sum() == 4
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"mlflow.db", "record.json", "metrics.json", "verdicts.parquet", "judgements.sqlite"} <= names
    assert any(p.suffix in (".html", ".json") for p in (tmp_path / "artifacts").rglob("*") if p.is_file())
    needles = [SECRET.encode(), b"SECRET-1234567890"]
    leaks = [str(p) for p in files for needle in needles if needle in p.read_bytes()]
    assert not leaks, f"API key found in {leaks}"
    out, err = capfd.readouterr()
    assert "SECRET-1234567890" not in out + err

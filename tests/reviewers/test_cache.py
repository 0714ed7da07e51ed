"""Judgement cache: SQLite on disk; every paid answer stays paid for."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from harness._util.cache_dir import cache_file
from harness.reviewers.cache import BatchRecord, JudgementCache


def entry(i: int) -> dict:
    return {"content": f'{{"violation": {str(i % 2 == 0).lower()}}} é ✓', "prompt_tokens": i,
            "completion_tokens": 2 * i, "cost_usd": None if i % 3 else 0.001 * i}


def test_put_get_many_round_trip(tmp_path: Path) -> None:
    cache = JudgementCache(tmp_path / "nested" / "dir" / "c.sqlite")
    for i in range(5):
        cache.put(f"k{i}", entry(i))
    found = cache.get_many(["k0", "k3", "missing", "k4"])
    assert found == {"k0": entry(0), "k3": entry(3), "k4": entry(4)}
    assert cache.get_many([]) == {}
    assert len(cache) == 5
    cache.put("k0", {"content": "replaced"})
    assert cache.get_many(["k0"]) == {"k0": {"content": "replaced"}} and len(cache) == 5
    cache.close()


def test_get_many_beyond_one_query_chunk(tmp_path: Path) -> None:
    cache = JudgementCache(tmp_path / "c.sqlite")
    for i in range(1200):
        cache.put(f"k{i}", {"i": i})
    keys = [f"k{i}" for i in range(0, 1300, 1)]
    found = cache.get_many(keys)
    assert len(found) == 1200 and found["k1199"] == {"i": 1199}
    cache.close()


def test_entries_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    first = JudgementCache(path)
    first.put("a", entry(1))
    first.put("b", entry(2))
    first.close()
    second = JudgementCache(path)
    assert second.get_many(["a", "b"]) == {"a": entry(1), "b": entry(2)}
    second.close()


def test_entry_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    """Each put is committed on return: a process killed right after it loses nothing."""
    path = tmp_path / "c.sqlite"
    writer = JudgementCache(path)
    writer.put("a", entry(1))
    reader = JudgementCache(path)
    assert reader.get_many(["a"]) == {"a": entry(1)}
    writer.close()
    reader.close()


def test_concurrent_puts_from_threads(tmp_path: Path) -> None:
    cache = JudgementCache(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(50):
                cache.put(f"t{t}-{i}", {"t": t, "i": i})
                if i % 10 == 0:
                    cache.get_many([f"t{t}-{j}" for j in range(i)])
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) == 400
    found = cache.get_many([f"t{t}-{i}" for t in range(8) for i in range(50)])
    assert all(found[f"t{t}-{i}"] == {"t": t, "i": i} for t in range(8) for i in range(50))
    cache.close()


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "env.sqlite"))
    assert cache_file() == tmp_path / "env.sqlite"
    cache = JudgementCache()
    cache.put("x", {"v": 1})
    cache.close()
    assert (tmp_path / "env.sqlite").is_file()


OLD_BATCHES_TABLE = ("CREATE TABLE batches (batch_id TEXT PRIMARY KEY, input_file_id TEXT NOT NULL, provider TEXT "
                     "NOT NULL, api_base TEXT NOT NULL, custom_ids TEXT NOT NULL, submitted_at REAL NOT NULL, "
                     "attempt INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0)")


def test_uploads_recorded_before_their_batch_in_a_cache_of_the_first_batches_shape(tmp_path: Path) -> None:
    """A cache written before uploads were recorded keeps its batches; an upload row gets its batch id once."""
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(OLD_BATCHES_TABLE)
        db.execute("INSERT INTO batches (batch_id, input_file_id, provider, api_base, custom_ids, submitted_at, "
                   "attempt) VALUES ('batch_old', 'file-old', 'openai', '', '[\"k0\"]', 1.0, 1)")
    db.close()
    cache = JudgementCache(path)
    cache.record_batch(BatchRecord(None, "file-new", "openai", "", ("k1", "k2"), 2.0, 1))
    assert cache.live_batches("openai", "") == [
        BatchRecord("batch_old", "file-old", "openai", "", ("k0",), 1.0, 1),
        BatchRecord(None, "file-new", "openai", "", ("k1", "k2"), 2.0, 1)]
    cache.set_batch_id("file-new", "batch_new")
    cache.set_batch_id("file-new", "batch_again")  # only a placeholder is replaced
    cache.finish_batch("batch_old")
    cache.close()
    reopened = JudgementCache(path)
    assert reopened.live_batches("openai", "") == [BatchRecord("batch_new", "file-new", "openai", "", ("k1", "k2"),
                                                               2.0, 1)]
    reopened.close()


# --- where the cache is (issue 32: one per user, whatever folder a command runs from) ------------

@pytest.mark.parametrize(("platform", "env", "expected"), [
    ("linux", {"XDG_CACHE_HOME": "/xdg"}, "/xdg/policy-harness/judgements.sqlite"),
    ("linux", {"XDG_CACHE_HOME": "relative/ignored"}, "/home/u/.cache/policy-harness/judgements.sqlite"),
    ("linux", {}, "/home/u/.cache/policy-harness/judgements.sqlite"),
    ("darwin", {"XDG_CACHE_HOME": "/xdg"}, "/home/u/Library/Caches/policy-harness/judgements.sqlite"),
    ("win32", {"LOCALAPPDATA": "/appdata"}, "/appdata/policy-harness/Cache/judgements.sqlite"),
])
def test_default_is_the_platforms_user_cache(monkeypatch: pytest.MonkeyPatch, platform: str,
                                             env: dict[str, str], expected: str) -> None:
    from harness._util import cache_dir

    for name in ("POLICY_HARNESS_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cache_dir.sys, "platform", platform)
    monkeypatch.setattr(cache_dir.Path, "home", classmethod(lambda cls: cls("/home/u")))
    assert cache_file() == Path(expected)


def test_experiment_key_names_the_cache_of_every_model_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.config import LLMReviewerConfig, parse_experiment

    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(tmp_path / "env.sqlite"))
    data = {"policy": "p.md", "eval_set": {"path": "items.csv"}, "cache": "team/judgements.sqlite",
            "reviewers": [{"name": "m", "type": "llm", "model": "openai/x"}, {"name": "c", "type": "classifier"}],
            "author": {"model": "openai/y"}}
    experiment = parse_experiment({"name": "e", **data}, path=tmp_path / "project" / "exp.yaml")
    expected = tmp_path / "project" / "team" / "judgements.sqlite"
    assert experiment.cache_file == expected
    llm = experiment.reviewers[0]
    assert isinstance(llm, LLMReviewerConfig) and llm.cache_file == expected
    assert experiment.author is not None and experiment.author.cache_file == expected
    assert not any("cache" in key for key in llm.model_dump())  # not part of the reviewer's recorded settings
    without = parse_experiment({"name": "e", **{k: v for k, v in data.items() if k != "cache"}},
                               path=tmp_path / "exp.yaml")
    other = without.reviewers[0]
    assert without.cache_file is None and isinstance(other, LLMReviewerConfig) and other.cache_file is None


def test_the_cache_line_shows_a_path_under_the_home_folder_with_a_tilde(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.reviewers.cache import cache_summary

    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_summary(tmp_path / ".cache" / "policy-harness" / "judgements.sqlite") == \
        "cache: ~/.cache/policy-harness/judgements.sqlite (new)"
    elsewhere = tmp_path.parent / "elsewhere.sqlite"
    assert cache_summary(elsewhere) == f"cache: {elsewhere} (new)"

"""Crash safety: a run stopped at any point (disk full, Ctrl-C, a crash between renames) leaves no
half-written output or cache that a later run trusts, says what happened in one line, and a re-run
resumes without paying twice."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from support.llm import experiment, write_items
from support.reliability import REPO_ROOT, experiment_data, items_csv, llm_reviewer, workspace

import harness
from harness._cli import main as cli
from harness.errors import HarnessError
from harness.record import read_record
from harness.reviewers.cache import JudgementCache
from harness.testing.openai_server import FakeOpenAIServer

ROWS = [(f"i{i:02d}", f"item {i}" + (" VIOLATE" if i % 3 == 0 else ""), "hateful" if i % 3 == 0 else "non-hateful")
        for i in range(12)]
MORE = ROWS + [("new", "a new item VIOLATE", "hateful")]
WEIGHTED = [(*row, "1") for row in ROWS]  # the rows of rel_support's workspace carry a weight column
NO_SPACE = "free space and re-run: cached judgements are kept."


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def full_disk_on(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """Writing `target` (a file of the run directory) fails half-way with ENOSPC, as a full disk does."""
    real_parquet, real_table, real_text = pd.DataFrame.to_parquet, pq.write_table, Path.write_text

    def is_target(path: object) -> bool:
        return Path(str(path)).name.startswith(f".{target}.")  # the temporary file staged for target

    def to_parquet(frame: pd.DataFrame, path: object, *args: object, **kwargs: object) -> object:
        if is_target(path):
            Path(str(path)).write_bytes(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_parquet(frame, path, *args, **kwargs)

    def write_table(table: object, where: object, *args: object, **kwargs: object) -> object:
        if is_target(where):
            Path(str(where)).write_bytes(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_table(table, where, *args, **kwargs)

    def write_text(path: Path, data: str, *args: object, **kwargs: object) -> int:
        if is_target(path):
            real_text(path, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_text(path, data, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    monkeypatch.setattr(pq, "write_table", write_table)  # verdicts.parquet: Arrow list columns
    monkeypatch.setattr(Path, "write_text", write_text)


# --- disk full while writing outputs ------------------------------------------------------------

@pytest.mark.parametrize("target", ["verdicts.parquet", "items.parquet", "metrics.json", "record.json"])
def test_disk_full_keeps_the_previous_outputs(target: str, tmp_path: Path, cache_path: Path,
                                              server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    harness.run(experiment(write_items(tmp_path / "a.csv", ROWS), server.base_url), out_dir=out, track=False)
    before = snapshot(out)
    assert {"record.json", "metrics.json", "verdicts.parquet", "items.parquet", "report.html"} <= set(before)

    bigger = experiment(write_items(tmp_path / "b.csv", MORE), server.base_url)
    with monkeypatch.context() as patch:
        full_disk_on(patch, target)
        with pytest.raises(OSError) as err:
            harness.run(bigger, out_dir=out, track=False)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(out / target)
    assert snapshot(out) == before  # every previous file intact, no temporary files left
    assert len(read_record(out).items) == len(ROWS)

    server.reset_stats()
    record = harness.run(bigger, out_dir=out, track=False)  # space freed: re-run
    assert server.stats["requests"] == 0  # the judgements were cached before the write failed
    assert len(read_record(out).items) == len(MORE) == len(record.verdicts)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_disk_full_while_writing_the_report(tmp_path: Path, cache_path: Path, server: FakeOpenAIServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The record is written before the report: it is complete and consistent, only the report is old."""
    out = tmp_path / "out"
    harness.run(experiment(write_items(tmp_path / "a.csv", ROWS), server.base_url), out_dir=out, track=False)
    old_report = (out / "report.html").read_bytes()
    with monkeypatch.context() as patch:
        full_disk_on(patch, "report.html")
        with pytest.raises(OSError) as err:
            harness.run(experiment(write_items(tmp_path / "b.csv", MORE), server.base_url), out_dir=out, track=False)
    assert err.value.filename == str(out / "report.html")
    assert (out / "report.html").read_bytes() == old_report
    assert len(read_record(out).items) == len(MORE)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_cli_says_disk_full_in_one_sentence(tmp_path: Path, cache_path: Path, server: FakeOpenAIServer,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exp = workspace(tmp_path, data=experiment_data(reviewers=[llm_reviewer(server.base_url)]))
    out = tmp_path / "out"
    full_disk_on(monkeypatch, "items.parquet")
    code = cli.main(["run", str(exp), "--no-track", "--out", str(out), "--quiet"])  # stderr: the error alone
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"error: could not write {out / 'items.parquet'} (no space left on device); {NO_SPACE}"]
    assert not out.exists() or not list(out.iterdir())


def test_cli_names_an_unwritable_output_directory(tmp_path: Path, cache_path: Path, server: FakeOpenAIServer,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Permissions cannot be tested with chmod as root; a refused mkdir is what a read-only share gives."""
    exp = workspace(tmp_path, data=experiment_data(reviewers=[llm_reviewer(server.base_url)]))
    out = tmp_path / "shared" / "out"
    real_mkdir = Path.mkdir

    def mkdir(path: Path, *args: object, **kwargs: object) -> None:
        if path == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert cli.main(["run", str(exp), "--no-track", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: could not write {out} (permission denied); choose a writable --out or fix its permissions "
        "and re-run: cached judgements are kept."]


# --- a crash between the renames of one write (kill -9) --------------------------------------------

def test_torn_output_set_is_refused_not_trusted(tmp_path: Path, cache_path: Path, server: FakeOpenAIServer,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    harness.run(experiment(write_items(tmp_path / "a.csv", ROWS), server.base_url), out_dir=out, track=False)
    real_replace = os.replace
    calls = []

    def replace_then_die(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:  # verdicts.parquet is new, the rest of the set is not: the process dies here
            raise SystemExit("killed")
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace_then_die)
        with pytest.raises(SystemExit):
            harness.run(experiment(write_items(tmp_path / "b.csv", MORE), server.base_url), out_dir=out, track=False)
    with pytest.raises(HarnessError, match="verdicts.parquet .*does not match record.json.*interrupted"):
        read_record(out)
    assert cli.main(["report", str(out)]) == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {out}: verdicts.parquet") and "Re-run the experiment" in line


# --- the judgement cache ----------------------------------------------------------------------------

def test_cache_disk_full_stops_cleanly_and_keeps_what_was_paid(tmp_path: Path, cache_path: Path,
                                                               server: FakeOpenAIServer,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    room = 5  # judgements the disk has room for
    real_init = JudgementCache.__init__

    class FillsUp:
        """The SQLite connection, until the disk is full: then an insert fails as SQLite's does."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db, self.rows = db, 0

        def _insert(self, rows: int) -> None:
            if self.rows + rows > room:
                raise sqlite3.OperationalError("database or disk is full")
            self.rows += rows

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("INSERT"):
                self._insert(1)
            return self.db.execute(sql, *args)

        def executemany(self, sql: str, rows: object) -> object:
            rows = list(rows)  # type: ignore[call-overload]
            self._insert(len(rows))
            return self.db.executemany(sql, rows)

        def close(self) -> None:
            self.db.close()

    def init(cache: JudgementCache, path: Path | None = None) -> None:
        real_init(cache, path)
        cache._db = FillsUp(cache._db)  # type: ignore[assignment]

    exp = workspace(tmp_path, items=items_csv(WEIGHTED),
                    data=experiment_data(reviewers=[llm_reviewer(server.base_url, concurrency=1)]))
    with monkeypatch.context() as patch:
        patch.setattr(JudgementCache, "__init__", init)
        assert cli.main(["run", str(exp), "--no-track", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: could not write {cache_path} (no space left on device); {NO_SPACE}"]
    status, kept = integrity(cache_path)
    assert status == "ok" and 0 < kept <= room
    assert not (tmp_path / "out").exists()

    server.reset_stats()
    assert cli.main(["run", str(exp), "--no-track", "--out", str(tmp_path / "out")]) == 0
    assert server.stats["requests"] == len(ROWS) - kept  # what was stored before the disk filled is not paid again
    assert integrity(cache_path) == ("ok", len(ROWS))


def test_a_file_that_is_not_a_cache_is_named_not_trusted(tmp_path: Path, cache_path: Path, server: FakeOpenAIServer,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"this is not an SQLite database, it is the start of a CSV file\n" * 100)
    exp = workspace(tmp_path, data=experiment_data(reviewers=[llm_reviewer(server.base_url)]))
    assert cli.main(["run", str(exp), "--no-track", "--out", str(tmp_path / "out")]) == 2
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {cache_path}: is not a judgement cache") and "POLICY_HARNESS_CACHE" in line
    assert server.stats["requests"] == 0


def integrity(path: Path) -> tuple[str, int]:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0], db.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]


# --- Ctrl-C -------------------------------------------------------------------------------------

def test_ctrl_c_exits_130_keeps_the_cache_and_resumes(tmp_path: Path) -> None:
    n = 40
    rows = [(f"i{i:02d}", f"text {i}" + (" VIOLATE" if i % 2 else ""), "hateful" if i % 2 else "non-hateful", "1")
            for i in range(n)]
    cache = tmp_path / "cache" / "judgements.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8", "POLICY_HARNESS_CACHE": str(cache)}
    args = [sys.executable, "-m", "harness", "run", "exp.yaml", "--no-track", "--out", "out"]
    with FakeOpenAIServer(latency_ms=300) as srv:
        workspace(tmp_path, items=items_csv(rows),
                  data=experiment_data(reviewers=[llm_reviewer(srv.base_url, concurrency=4)]))
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while srv.stats["requests"] < 12 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert err.strip().splitlines() == [
            "interrupted: every judgement already returned is kept in the cache; re-run to resume."]
        assert not (tmp_path / "out").exists()
        status, done = integrity(cache)
        assert status == "ok" and 0 < done < n, (status, done)

        srv.reset_stats()
        again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert srv.stats["requests"] == n - done  # only what the interrupted run had not stored
    verdicts = read_record(tmp_path / "out").verdicts
    assert sorted(verdicts["item_id"]) == [r[0] for r in rows] and not (verdicts["decision"] == "abstained").any()

"""Persistent judgement cache: every paid answer is stored the moment it returns.

SQLite in WAL mode: each put (or put_many batch) is its own transaction, so a run killed at any
point (Ctrl-C, kill -9) leaves either the whole entry or none of it, never a torn one. Commits
are not fsynced (synchronous=NORMAL): they survive the process being killed, not a power cut.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._util.cache_dir import cache_file
from harness.errors import HarnessError

# The batch id column of an input file uploaded but not yet made a batch: the table's shape stays the one
# caches already have, and the id is replaced in one statement when the provider returns the batch's.
UPLOAD_PREFIX = "upload:"


@dataclass(frozen=True)
class BatchRecord:
    """A provider batch as submitted: which judgements (cache keys = custom ids) it holds and where.

    batch_id is None for an input file recorded before its batch was created (see docs/batch.md)."""

    batch_id: str | None
    input_file_id: str
    provider: str
    api_base: str
    custom_ids: tuple[str, ...]
    submitted_at: float
    attempt: int  # 1: first submission; 2: the one resubmission of lines that failed transiently


def cache_summary(path: Path | None = None) -> str:
    """One line saying where the judgement cache is and how much it holds, as `run` and `estimate` print it."""
    path = cache_file(path)
    shown = _shown(path)
    if not path.is_file():
        return f"cache: {shown} (new)"
    cache = JudgementCache(path)
    try:
        count = len(cache)
    finally:
        cache.close()
    return f"cache: {shown} ({count:,} judgement{'s' if count != 1 else ''} cached)"


def _shown(path: Path) -> str:
    """The path as a person reads it: under the home folder as ~/..."""
    try:
        return "~/" + path.resolve().relative_to(Path.home().resolve()).as_posix()
    except (ValueError, RuntimeError):  # elsewhere, or no home folder
        return str(path)


class JudgementCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS judgements (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            # Batch input files and the batches made from them, recorded the moment each exists: a re-run polls
            # them (or finds the batch a killed run created), never submits the same lines again.
            self._db.execute("CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, input_file_id TEXT "
                             "NOT NULL, provider TEXT NOT NULL, api_base TEXT NOT NULL, custom_ids TEXT NOT NULL, "
                             "submitted_at REAL NOT NULL, attempt INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0)")
        except sqlite3.DatabaseError as err:  # not a cache (a stray file, a damaged disk): never guess at it
            self._db.close()
            raise HarnessError(f"is not a judgement cache SQLite can read ({err}); move it aside or name "
                               "another file (the experiment's 'cache:' key or POLICY_HARNESS_CACHE), and re-run.",
                               path=self.path) from None

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(f"SELECT key, value FROM judgements WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        return found

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO judgements (key, value) VALUES (?, ?)",
                                 (key, json.dumps(value, ensure_ascii=False)))
            except sqlite3.OperationalError as err:
                if "full" in str(err):  # "database or disk is full": the CLI names the file and the fix
                    raise OSError(errno.ENOSPC, "No space left on device", str(self.path)) from err
                raise

    def put_many(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        """Several entries in one transaction: all of them are on disk when this returns, or none."""
        rows = [(key, json.dumps(value, ensure_ascii=False)) for key, value in entries]
        with self._lock:
            try:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO judgements (key, value) VALUES (?, ?)", rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as err:
                if "full" in str(err):  # as in put
                    raise OSError(errno.ENOSPC, "No space left on device", str(self.path)) from err
                raise

    def record_batch(self, batch: BatchRecord) -> None:
        """Record a batch, or with batch_id None an uploaded input file whose batch is still to be created."""
        row_id = batch.batch_id if batch.batch_id is not None else UPLOAD_PREFIX + batch.input_file_id
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO batches (batch_id, input_file_id, provider, api_base, custom_ids, "
                             "submitted_at, attempt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (row_id, batch.input_file_id, batch.provider, batch.api_base,
                              json.dumps(list(batch.custom_ids)), batch.submitted_at, batch.attempt))

    def set_batch_id(self, input_file_id: str, batch_id: str) -> None:
        """The batch the provider created from a recorded upload: the placeholder becomes its id, atomically."""
        with self._lock:
            self._db.execute("UPDATE batches SET batch_id = ? WHERE batch_id = ?",
                             (batch_id, UPLOAD_PREFIX + input_file_id))

    def live_batches(self, provider: str, api_base: str) -> list[BatchRecord]:
        """Batches (and uploads not yet batches) of this endpoint whose lines are not all handled, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT batch_id, input_file_id, provider, api_base, custom_ids, submitted_at, "
                                    "attempt FROM batches WHERE done = 0 AND provider = ? AND api_base = ? "
                                    "ORDER BY submitted_at", (provider, api_base)).fetchall()
        return [BatchRecord(None if row[0] == UPLOAD_PREFIX + row[1] else row[0], row[1], row[2], row[3],
                            tuple(json.loads(row[4])), row[5], row[6]) for row in rows]

    def finish_batch(self, batch_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE batches SET done = 1 WHERE batch_id = ?", (batch_id,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM judgements").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

"""Plumbing shared by the benchmarks: the fake provider in its own process, measured child
processes (peak RSS and CPU from wait4), machine facts, and the JSON line a child reports."""

from __future__ import annotations

import json
import os
import platform
import pty
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from harness._util.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
V1 = REPO / "prompts" / "policies" / "hate_speech" / "v1.md"
V2 = REPO / "prompts" / "policies" / "hate_speech" / "v2.md"
QUICKSTART_ITEMS = REPO / "eval_sets" / "quickstart" / "items.csv"
RESULT_PREFIX = "BENCH-RESULT "


class ChildFailed(RuntimeError):
    pass


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for package in ("openai", "aiohttp", "httpx", "litellm", "pandas", "numpy", "scikit-learn", "datasets",
                    "llama_cpp_python"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu, "memory_gb": mem_gb,
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


@contextmanager
def fake_provider(latency_ms: float) -> Iterator[str]:
    """`python -m harness.testing.openai_server` in its own process (its own GIL); yields its base URL."""
    proc = subprocess.Popen([PY, "-m", "harness.testing.openai_server", "--latency-ms", str(latency_ms)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise ChildFailed(f"the fake provider did not start (printed {url!r})")
        yield url
    finally:
        stop_process(proc)


def child(module: str, *args: object, tty: bool = False, timeout_s: float = 600.0,
          env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m module args`, return the dict it reports plus its peak RSS and CPU seconds.

    tty=True gives the child a pseudo-terminal as stderr, so progress bars draw as they would for
    a user at a terminal (and cost what they cost there)."""
    command = [PY, "-m", module, *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(env or {})}
    errors = tempfile.TemporaryFile()
    master = slave = None
    if tty:
        master, slave = pty.openpty()
    proc = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                            stderr=slave if tty else errors, stdin=subprocess.DEVNULL)
    drained: list[bytes] = []
    if tty:
        assert master is not None and slave is not None
        os.close(slave)
        threading.Thread(target=_drain, args=(master, drained), daemon=True).start()
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    started = time.perf_counter()
    try:
        assert proc.stdout is not None
        out = proc.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    lines = [line[len(RESULT_PREFIX):] for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        errors.seek(0)
        tail = (errors.read().decode("utf-8", "replace") or b"".join(drained).decode("utf-8", "replace"))[-3000:]
        raise ChildFailed(f"{' '.join(command[2:])} exited with {proc.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["process"] = {"wall_s": round(elapsed, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                         "cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}
    return result


def _drain(fd: int, sink: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        sink[:] = [(b"".join(sink) + chunk)[-4000:]]
    os.close(fd)


def report(result: dict[str, Any]) -> None:
    """What a child prints last: one line the parent picks out of whatever else went to stdout."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM, so a phase's own peak can be read after it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def bench_items(n: int) -> list[str]:
    """n distinct, realistic item texts: the quick-start items cycled, numbered, every third marked."""
    import csv

    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return [f"{texts[i % len(texts)]} (#{i}){' VIOLATE' if i % 3 == 0 else ''}" for i in range(n)]

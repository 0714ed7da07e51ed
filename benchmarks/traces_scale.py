"""MLflow traces at scale (issue 27, docs/mlflow.md "Scale"): N items (default 100,000) traced into a real
`mlflow server` backed by a throwaway PostgreSQL on loopback.

The eval set is real text: the Davidson et al. tweets and the HateCheck cases from /work/shared/data (or
POLICY_HARNESS_SHARED_DATA), repeated under distinct ids up to N items, written to a temporary folder. The
shipped entry point (`python -m harness run`) judges them with a TF-IDF classifier reviewer, tracked to
the server; the run starts the detached trace writer and returns. The benchmark finds that writer, samples
its resident memory until it exits, and prints: traces written (counted in PostgreSQL, and in traces.json),
the writer's wall time and traces/s, the peak RSS of the writer and of the run, the CPU seconds the MLflow
server and PostgreSQL spent, and the machine's load. Needs Debian's `postgresql` and psycopg2.

    python -m benchmarks.traces_scale [--items N] [--chunk N] [--server-workers N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the loopback PostgreSQL and MLflow server helpers of the tests
DATA = Path(os.environ.get("POLICY_HARNESS_SHARED_DATA", "/work/shared/data"))
WRITER_CODE = "from harness.tracking.trace_writer import main; main()"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def write_evalset(folder: Path, n: int) -> Path:
    """n items of real text (Davidson tweets, HateCheck cases) under distinct ids; the copy number is a slice."""
    import pandas as pd

    davidson = pd.read_csv(DATA / "davidson_hate_offensive" / "labeled_data.csv")
    hatecheck = pd.read_csv(DATA / "hatecheck" / "test_suite_cases.csv")
    base = pd.concat([
        pd.DataFrame({"text": davidson["tweet"], "source": "davidson",
                      "label": davidson["class"].map({0: "hateful", 1: "non-hateful", 2: "non-hateful"})}),
        pd.DataFrame({"text": hatecheck["test_case"], "source": "hatecheck", "label": hatecheck["label_gold"]}),
    ], ignore_index=True)
    copies = -(-n // len(base))
    frame = pd.concat([base.assign(copy=str(c)) for c in range(copies)], ignore_index=True).iloc[:n]
    frame.insert(0, "id", [f"s{i:06d}" for i in range(len(frame))])
    path = folder / "items.csv"
    frame.to_csv(path, index=False)
    return path


def write_experiment(folder: Path, items: Path, chunk: int) -> Path:
    path = folder / "scale.yaml"
    path.write_text(f"""\
name: traces-scale
policy: {REPO}/prompts/policies/hate_speech/v2.md
eval_set:
  path: {items}
  columns: {{id: id, text: text, label: label, slices: [source, copy]}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: tfidf-lr, type: classifier, max_features: 2000}}
gates:
  over_enforcement: {{max: 0.5}}
""", encoding="utf-8")
    return path


def proc_stat(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, start time in seconds since boot) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(fields[19]) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def find_writer(out_dir: Path, timeout_s: float = 60.0) -> int | None:
    """The pid of the trace writer the run started for `out_dir`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if WRITER_CODE.encode() in b" ".join(argv) and str(out_dir).encode() in argv:
                return int(entry.name)
        time.sleep(0.2)
    return None


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds of a process and its children (the MLflow server runs uvicorn in a child)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def postgres_cpu_s(data_dir: Path) -> float:
    """CPU seconds of the PostgreSQL cluster's processes (the postmaster and its backends)."""
    master = int((data_dir / "postmaster.pid").read_text().split()[0])
    return tree_cpu_s(master)


def measure(n: int, chunk: int, workers: int, keep: Path | None, max_wait_s: float) -> dict[str, Any]:
    from support.postgres import PostgresServer
    from support.tracking import MlflowServer

    from harness.record.traces import TRACES_JSON, TracesLog

    folder = keep or Path(tempfile.mkdtemp(prefix="traces-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    postgres = PostgresServer.start()
    server = MlflowServer(folder / "mlflow", backend_store_uri=postgres.uri)
    try:
        server.start()
        if workers != 1:  # the helper starts one worker, as the tests do; restart with more
            server.stop()
            server = _server_with_workers(folder / "mlflow", postgres.uri, workers)
        items = write_evalset(folder, n)
        experiment = write_experiment(folder, items, chunk)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "POLICY_HARNESS_TRACES"))}
        env.update({"PYTHONPATH": str(REPO), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "MLFLOW_TRACKING_URI": server.uri,
                    "POLICY_HARNESS_CACHE": str(folder / "cache.sqlite"), "POLICY_HARNESS_TRACE_CHUNK": str(chunk)})
        out = folder / "out"
        assert server.process is not None
        server_cpu0, pg_cpu0 = tree_cpu_s(server.process.pid), postgres_cpu_s(postgres.data)
        started = time.perf_counter()
        with (folder / "run.out").open("wb") as sink, (folder / "run.err").open("wb") as errors:
            run = subprocess.Popen([sys.executable, "-m", "harness", "run", str(experiment), "--out", str(out)],
                                   cwd=folder, env=env, stdout=sink, stderr=errors, stdin=subprocess.DEVNULL)
            _, status, usage = os.wait4(run.pid, 0)  # its own rusage: the peak RSS of the run alone
        run_wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # 1: a gate failed, the run is saved
            raise RuntimeError(f"policy-harness run exited with {code}:\n{(folder / 'run.err').read_text()[-3000:]}")
        run_rss = usage.ru_maxrss / 1024
        writer = find_writer(out)
        writer_peak, writer_start, writer_cpu, samples = 0.0, None, 0.0, []
        progress = None
        waited_from, stopped_waiting = time.perf_counter(), False
        while writer is not None:
            if time.perf_counter() - waited_from > max_wait_s:  # report what was written by then, marked partial
                stopped_waiting = True
                break
            stat = proc_stat(writer)
            rss = peak_rss_mb(writer)
            if stat is None or rss is None:
                break
            writer_cpu, writer_start = stat[0], stat[1]
            writer_peak = max(writer_peak, rss)
            path = out / TRACES_JSON
            progress = TracesLog.model_validate_json(path.read_text()) if path.exists() else None
            samples.append((round(time.perf_counter() - started, 1), sum(progress.written.values()) if progress else 0,
                            round(rss, 1)))
            if len(samples) % 30 == 1:
                print(f"t={samples[-1][0]} s: {samples[-1][1]:,} traces written, writer RSS {rss:.0f} MB, load "
                      f"{os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
            time.sleep(1.0)
        ended = _uptime_s()
        if stopped_waiting and writer is not None:
            os.kill(writer, 15)  # the benchmark's own child's child: stopped before its server goes away
        progress = TracesLog.model_validate_json((out / TRACES_JSON).read_text())
        writer_wall = ended - writer_start if writer_start is not None else float("nan")
        record = json.loads((out / "record.json").read_text())
        experiment_id = record["mlflow"]["experiment_id"]
        stored = postgres.query(f"SELECT count(*) FROM trace_info WHERE experiment_id = {int(experiment_id)}")[0][0]
        spans = postgres.query(f"SELECT count(*) FROM spans WHERE experiment_id = {int(experiment_id)}")[0][0]
        assessments = postgres.query(
            f"SELECT count(*) FROM assessments WHERE experiment_id = {int(experiment_id)}")[0][0]
        written = sum(progress.written.values())
        return {
            "items": n, "chunk": chunk, "server_workers": workers,
            "run_wall_s": round(run_wall, 1), "run_peak_rss_mb": round(run_rss, 1),
            "traces_written": written, "traces_in_postgres": int(str(stored)), "spans_in_postgres": int(str(spans)),
            "assessments_in_postgres": int(str(assessments)),
            "writer_complete": progress.complete, "writer_error": progress.error, "stopped_waiting": stopped_waiting,
            "writer_wall_s": round(writer_wall, 1), "traces_per_s": round(written / writer_wall, 1),
            "writer_peak_rss_mb": round(writer_peak, 1), "writer_cpu_s": round(writer_cpu, 1),
            "server_cpu_s": round(tree_cpu_s(server.process.pid) - server_cpu0, 1),
            "postgres_cpu_s": round(postgres_cpu_s(postgres.data) - pg_cpu0, 1),
            "progress_samples": samples[:: max(1, len(samples) // 20)],
            "load": os.getloadavg(), "nproc": len(os.sched_getaffinity(0)),
            "run_stdout_tail": (folder / "run.out").read_text()[-400:],
        }
    finally:
        server.stop()
        postgres.stop()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _server_with_workers(root: Path, backend: str, workers: int) -> Any:
    """The tests' server helper, started with `workers` uvicorn workers instead of one."""
    import urllib.request

    from support.tracking import MlflowServer

    server = MlflowServer(root, backend_store_uri=backend)
    log = (root / "server.log").open("ab")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(server.port),
         "--backend-store-uri", backend, "--artifacts-destination", str(root / "artifacts"),
         "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("mlflow server did not start")


def _uptime_s() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=500, help="traces per chunk of the writer")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--max-wait-s", type=float, default=float("inf"),
                        help="stop waiting for the writer after this long and report the partial figures")
    args = parser.parse_args()
    result = measure(args.items, args.chunk, args.server_workers, args.keep, args.max_wait_s)
    print(json.dumps(result, indent=1))
    print(f"{result['traces_written']:,} traces ({result['traces_in_postgres']:,} in PostgreSQL) of "
          f"{result['items']:,} items in {result['writer_wall_s']:.0f} s = {result['traces_per_s']:.1f} traces/s; "
          f"writer peak RSS {result['writer_peak_rss_mb']:.0f} MB, run peak RSS {result['run_peak_rss_mb']:.0f} MB, "
          f"run {result['run_wall_s']:.0f} s; load {result['load']}", file=sys.stderr)


if __name__ == "__main__":
    main()

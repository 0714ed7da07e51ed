"""Helpers for the tests against a real `mlflow server` on loopback: the server, an experiment, the CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness._util.processes import free_port, stop_process
from support.records import NOT_A_RECORD

REPO_ROOT = Path(__file__).resolve().parents[2]


class MlflowServer:
    """`mlflow server` on a loopback port; the backend store is sqlite under `root` unless one is given."""

    def __init__(self, root: Path, port: int | None = None, backend_store_uri: str | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.backend_store_uri = backend_store_uri or f"sqlite:///{root / 'mlflow.db'}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        self.root.mkdir(parents=True, exist_ok=True)
        # MLflow's own files (a trace artifact is also named traces.json) are not the harness's records
        (self.root / NOT_A_RECORD).touch()
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--backend-store-uri", self.backend_store_uri,
             "--artifacts-destination", str(self.root / "artifacts"), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("mlflow server did not start in 120 s")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                # MLflow 3.4's `mlflow server` leaves its uvicorn child serving when only it is stopped
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGTERM)
            stop_process(self.process, timeout_s=15)


def experiment_file(tmp_path: Path, *, name: str, gates: str = "over_enforcement: {max: 0.05}",
                    max_features: int = 2000, policy: str = "v2", baseline: str | None = "v1") -> Path:
    """A small classifier-only experiment (by default v1 baseline vs v2 candidate) on the quickstart set."""
    path = tmp_path / f"{name}.yaml"
    against = f"baseline: {REPO_ROOT}/prompts/policies/hate_speech/{baseline}.md\n" if baseline else ""
    path.write_text(f"""\
name: {name}
policy: {REPO_ROOT}/prompts/policies/hate_speech/{policy}.md
{against}eval_set:
  path: {REPO_ROOT}/eval_sets/quickstart/items.csv
  columns: {{id: id, slices: [tactic]}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: tfidf-lr, type: classifier, max_features: {max_features}}}
gates:
  {gates}
""", encoding="utf-8")
    return path


def cli(*args: str, uri: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m harness ...` in a child process tracking to `uri`."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)

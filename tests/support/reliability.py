"""Helpers for the reliability tests: a valid workspace to break one thing in, and the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
V2 = REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"
TEMPLATE = REPO_ROOT / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md"
GOOD_ROWS = [("a1", "a sunny day in the park", "non-hateful", "1"),
             ("a2", "they are VIOLATE vermin", "hateful", "2"),
             ("a3", "nice coffee this morning", "non-hateful", "1"),
             ("a4", "VIOLATE them all", "hateful", "0.5")]
HEADER = "id,text,label,w\n"


def items_csv(rows: list[tuple[str, ...]] = GOOD_ROWS) -> str:
    return HEADER + "".join(",".join(row) + "\n" for row in rows)


def experiment_data(**overrides: Any) -> dict[str, Any]:
    """A valid experiment (relative paths, read beside the file) that tests break one key of."""
    data: dict[str, Any] = {
        "name": "rel",
        "policy": "policy.md",
        "eval_set": {"path": "items.csv", "columns": {"id": "id", "text": "text", "label": "label", "weight": "w"},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "tfidf", "type": "classifier"}],
    }
    data.update(overrides)
    return data


def llm_reviewer(api_base: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
            "prompt": str(TEMPLATE), "max_retries": 1, "timeout_s": 5, **overrides}


def workspace(root: Path, *, items: str | bytes | None = None, data: dict[str, Any] | None = None) -> Path:
    """root/ with policy.md (a copy of v2), items.csv and exp.yaml; returns the experiment path."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(V2, root / "policy.md")
    content = items_csv() if items is None else items
    target = root / "items.csv"
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content, encoding="utf-8")
    exp = root / "exp.yaml"
    exp.write_text(yaml.safe_dump(data or experiment_data(), sort_keys=False), encoding="utf-8")
    return exp


def _cli_env(cwd: Path, env: dict[str, str] | None) -> dict[str, str]:
    """The command's cache and MLflow store live inside its working directory."""
    return {"PYTHONIOENCODING": "utf-8", "POLICY_HARNESS_CACHE": str(cwd / "cache" / "judgements.sqlite"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}", **(env or {})}


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m harness ...` in a subprocess."""
    full = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **_cli_env(cwd, env)}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=timeout)


def cli_batch(jobs: list[tuple[Path, list[str], dict[str, str]]], *, work: Path,
              timeout: float = 300) -> list[subprocess.CompletedProcess[str]]:
    """Many CLI invocations (cwd, args, env), each in its own forked process (see cli_batch.py)."""
    specs = [{"cwd": str(cwd), "args": args, "env": _cli_env(cwd, env),
              "stdout": str(work / f"{i}.stdout"), "stderr": str(work / f"{i}.stderr")}
             for i, (cwd, args, env) in enumerate(jobs)]
    spec_path = work / "jobs.json"
    spec_path.write_text(json.dumps(specs), encoding="utf-8")
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cli_batch.py")), str(spec_path)],
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    codes = json.loads(Path(str(spec_path) + ".out").read_text(encoding="utf-8"))["codes"]
    return [subprocess.CompletedProcess(["policy-harness", *args], code,
                                        Path(spec["stdout"]).read_text(encoding="utf-8", errors="replace"),
                                        Path(spec["stderr"]).read_text(encoding="utf-8", errors="replace"))
            for (_, args, _), spec, code in zip(jobs, specs, codes)]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single 'error:' line of a failed command (asserting exit status 2 and no traceback)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]

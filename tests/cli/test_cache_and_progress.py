"""Issue 32: one judgement cache per user wherever a command runs, and runs that say how far they are.

The commands run as a user runs them (`python -m harness ...` in a subprocess, stderr not a terminal)
against the loopback fake OpenAI server, with a HOME and XDG_CACHE_HOME of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.llm import write_project

from harness.testing.openai_server import FakeOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = [(f"i{n}", f"item number {n} says something", "hateful" if n % 2 else "non-hateful") for n in range(4)]


def project(folder: Path, api_base: str, *, extra: str = "") -> Path:
    return write_project(folder, "cache-test", ROWS, "  - {name: fake, type: llm, model: openai/fake-model, "
                         f'api_base: "{api_base}", max_retries: 1, timeout_s: 5}}', extra)


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "POLICY_HARNESS_CACHE"}
    return {**env, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
            "PYTHONPATH": str(REPO_ROOT), "PYTHONIOENCODING": "utf-8",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db", **extra}


def harness_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def run_in(folder: Path, experiment: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    result = harness_cli("run", str(experiment), "--no-track", "--out", str(folder / "out"), *flags,
                         cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_a_second_folder_pays_nothing(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = project(tmp_path / "project", server.base_url)
    env = user_env(tmp_path)
    user_cache = tmp_path / "xdg" / "policy-harness" / "judgements.sqlite"

    first = run_in(tmp_path / "here", experiment, env)
    assert server.stats["requests"] == 4
    assert f"cache: {user_cache} (new)" in first.stdout.splitlines()

    (tmp_path / "elsewhere-1").mkdir()
    estimate = harness_cli("estimate", str(experiment), cwd=tmp_path / "elsewhere-1", env=env)
    assert estimate.returncode == 0, estimate.stderr
    assert "0 calls to send (4 cached)" in estimate.stdout
    assert f"cache: {user_cache} (4 judgements cached)" in estimate.stdout.splitlines()

    second = run_in(tmp_path / "elsewhere-2", experiment, env)
    assert server.stats["requests"] == 4, "the run from another folder sent its judgements again"
    assert f"cache: {user_cache} (4 judgements cached)" in second.stdout.splitlines()
    assert user_cache.is_file()
    assert not any(p.name == ".cache" for folder in ("here", "elsewhere-1", "elsewhere-2")
                   for p in (tmp_path / folder).iterdir())


def test_environment_variable_moves_the_cache(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = project(tmp_path / "project", server.base_url)
    chosen = tmp_path / "team" / "shared.sqlite"
    result = run_in(tmp_path / "here", experiment, user_env(tmp_path, POLICY_HARNESS_CACHE=str(chosen)))
    assert chosen.is_file()
    assert not (tmp_path / "xdg" / "policy-harness").exists()
    assert f"cache: {chosen} (new)" in result.stdout.splitlines()


def test_experiment_key_wins_over_the_environment(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = project(tmp_path / "project", server.base_url, extra="cache: judgements/project.sqlite\n")
    env = user_env(tmp_path, POLICY_HARNESS_CACHE=str(tmp_path / "env.sqlite"))
    run_in(tmp_path / "here", experiment, env)
    run_in(tmp_path / "there", experiment, env)
    # relative to the experiment file's folder, not to where the command ran
    assert (tmp_path / "project" / "judgements" / "project.sqlite").is_file()
    assert not (tmp_path / "env.sqlite").exists() and not (tmp_path / "here" / "judgements").exists()
    assert server.stats["requests"] == 4


def progress_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fake: ")]


def test_a_run_that_is_not_in_a_terminal_prints_its_progress(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_ms=50) as srv:
        experiment = project(tmp_path / "project", srv.base_url, extra="cache: cache.sqlite\n")
        result = run_in(tmp_path / "here", experiment, user_env(tmp_path))
    lines = progress_lines(result.stderr)
    assert lines, f"no progress line on stderr:\n{result.stderr}"
    assert lines[-1].startswith("fake: 4/4 items in "), lines
    assert "tokens, cost " in lines[-1]  # the cost so far (unknown: the fake model has no price)


def test_quiet_run_prints_no_progress(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = project(tmp_path / "project", server.base_url, extra="cache: cache.sqlite\n")
    result = run_in(tmp_path / "here", experiment, user_env(tmp_path), "--quiet")
    assert not progress_lines(result.stderr), result.stderr
    assert "items" not in result.stderr


@pytest.mark.parametrize("quiet", [False, True])
def test_a_classifier_says_when_it_starts_and_ends(tmp_path: Path, quiet: bool) -> None:
    folder = tmp_path / "project"
    rows = [(f"i{n}", f"item {n} text", "hateful" if n % 2 else "non-hateful") for n in range(20)]
    write_project(folder, "classifier-progress", rows, "  - {name: tfidf, type: classifier, folds: 2}")
    result = run_in(tmp_path / "here", folder / "exp.yaml", user_env(tmp_path), *(["--quiet"] if quiet else []))
    lines = [line for line in result.stderr.splitlines() if line.startswith("tfidf: ")]
    if quiet:
        assert not lines, result.stderr
    else:
        assert lines[0] == "tfidf: cross-fitting 2 folds on 20 items", result.stderr
        assert lines[-1].startswith("tfidf: 20 items judged in "), result.stderr
    assert "cache:" not in result.stdout  # a classifier makes no model calls: no cache to speak of

"""Helpers for the LLM-path tests: a tiny eval set, an experiment against a fake server, fast backoff."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.config import Experiment, parse_experiment
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

REPO_ROOT = Path(__file__).resolve().parents[2]
V2 = REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"
LABELS = {"hateful": "HS", "non-hateful": "benign"}


def write_items(path: Path, rows: Iterable[tuple[str, str, str]]) -> Path:
    """rows: (id, text, label) with label 'hateful' or 'non-hateful'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(list(rows), columns=["id", "text", "label"]).to_csv(path, index=False)
    return path


def write_project(folder: Path, name: str, rows: Iterable[tuple[str, str, str]], reviewers: str,
                  extra: str = "") -> Path:
    """An experiment file `exp.yaml` with its items beside it (relative paths, as `init` writes them); `reviewers`
    the YAML list's lines."""
    write_items(folder / "items.csv", rows)
    path = folder / "exp.yaml"
    path.write_text(f"""\
name: {name}
policy: {V2}
eval_set:
  path: items.csv
  columns: {{id: id, text: text, label: label}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
{reviewers}
{extra}""", encoding="utf-8")
    return path


def reviewer(api_base: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base,
            "max_retries": 2, "timeout_s": 5, **overrides}


def experiment(items: Path, api_base: str, *, name: str = "llm-test", policy: Path = V2,
               tracking: dict[str, Any] | None = None, **overrides: Any) -> Experiment:
    data: dict[str, Any] = {
        "name": name, "policy": str(policy),
        "eval_set": {"path": str(items), "columns": {"id": "id", "text": "text", "label": "label"},
                     "labels": LABELS},
        "reviewers": [reviewer(api_base, **overrides)],
    }
    if tracking is not None:
        data["tracking"] = tracking
    return parse_experiment(data)


def item_text(logged: Any) -> str:
    """The item as the server saw it (between the markers of the last user message)."""
    section = item_section(last_user_text(logged.body))
    return section.rsplit("<<<END ITEM>>>", 1)[0].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fast_backoff(monkeypatch: pytest.MonkeyPatch, seconds: float = 0.01) -> None:
    """Shrink LLMClient's exponential backoff (Retry-After is still honoured)."""
    from harness.providers.client import LLMClient

    monkeypatch.setitem(LLMClient.__init__.__kwdefaults__, "backoff_s", seconds)


def make_server(**kwargs: Any) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(**kwargs) as server:
        yield server


@pytest.fixture
def cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A judgement cache of the test's own (name it as a parameter, or `pytest.mark.usefixtures`)."""
    path = tmp_path / "cache" / "judgements.sqlite"
    monkeypatch.setenv("POLICY_HARNESS_CACHE", str(path))
    return path


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


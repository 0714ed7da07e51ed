"""The install lines a new team copies: the local model's portable build flags match the Makefile's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def makefile_llama_args() -> str:
    """LLAMA_CMAKE_ARGS as the Makefile sets it, continuation lines joined."""
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^LLAMA_CMAKE_ARGS \?=(.*)$", text, re.MULTILINE)
    assert match, "the Makefile no longer sets LLAMA_CMAKE_ARGS"
    return " ".join(match.group(1).split())


@pytest.mark.parametrize("doc", ["README.md", "docs/workspace.md"])
def test_the_docs_install_the_local_model_with_the_makefiles_portable_flags(doc: str) -> None:
    """A native llama.cpp build crashed here; pip's default build is native, so the docs must give the flags."""
    text = (REPO_ROOT / doc).read_text(encoding="utf-8")
    assert f"CMAKE_ARGS=\"{makefile_llama_args()}\" pip install 'policy-harness[local]'" in text


def test_workspace_doc_says_what_the_init_experiment_enables() -> None:
    """workspace.md once said the starter experiment enables the local LLM; it is commented out."""
    template = REPO_ROOT / "harness" / "workspace" / "template" / "experiment.yaml"
    reviewers = yaml.safe_load(template.read_text(encoding="utf-8"))["reviewers"]
    assert [r["type"] for r in reviewers] == ["classifier"]
    text = (REPO_ROOT / "docs" / "workspace.md").read_text(encoding="utf-8")
    assert "two LLM reviewers commented out" in text
    assert "# - name: smollm2" in template.read_text(encoding="utf-8")

"""`policy-harness explain RUN_DIR`: rationales on demand for the verdicts a person opens, run as a user
runs it (`python -m harness ...` in a subprocess) against the loopback fake OpenAI server.

The fake reviewer answers as a first-token reviewer does: asked for a score (log-probabilities), its
answer carries no rationale; asked in generation mode (`scores: none`), it writes one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.llm import write_project

from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

REPO_ROOT = Path(__file__).resolve().parents[2]
# VIOLATE marks what the fake model actions: i1 and i4 are its mistakes (a false positive, a false negative).
ROWS = [("i0", "VIOLATE those people are vermin", "hateful"), ("i1", "a news report that says VIOLATE", "non-hateful"),
        ("i2", "I love my neighbours", "non-hateful"), ("i3", "VIOLATE go back where you came from", "hateful"),
        ("i4", "a coded insult the model misses", "hateful"), ("i5", "the referee is a clown", "non-hateful")]


def answer(request: dict[str, Any]) -> str:
    violation = "VIOLATE" in item_section(last_user_text(request))
    verdict: dict[str, Any] = {"violation": violation, "categories": ["HS"] if violation else [],
                               "rule_ids": ["HS1"] if violation else [], "confidence": 0.8}
    if not request.get("logprobs"):  # generation mode: the whole answer, with its reasons
        if "referee" in item_section(last_user_text(request)):
            raise RuntimeError("this item's answer fails")  # a 500 on every try
        # The generated answer disagrees with the scored verdict on i4: a person should see that.
        violation = violation or "coded insult" in item_section(last_user_text(request))
        verdict.update(violation=violation, rationale=f"Generated reason: {'violates HS1' if violation else 'allowed'}.")
    return json.dumps(verdict)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder=answer) as server:
        yield server


def project(folder: Path, api_base: str, *, rows: list[tuple[str, str, str]] = ROWS) -> Path:
    return write_project(folder, "explain-test", rows,
                         f'  - {{name: judge, type: llm, model: openai/fake-model, api_base: "{api_base}", '
                         "max_retries: 1, timeout_s: 5, concurrency: 2}\n"
                         "  - {name: words, type: classifier, folds: 2, max_features: 100}")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLICY_HARNESS_CACHE": str(cwd / "cache.sqlite"), "PYTHONPATH": str(REPO_ROOT),
           "PYTHONIOENCODING": "utf-8", "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/m.db"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def fresh_run(folder: Path, server: FakeOpenAIServer) -> Path:
    """A run of the project in `folder`, its judgement cache beside it; the judge's verdicts have no rationale."""
    experiment = project(folder, server.base_url)
    result = cli("run", str(experiment), "--no-track", "--quiet", "--out", str(folder / "out"), cwd=folder)
    assert result.returncode == 0, result.stderr
    verdicts = pd.read_parquet(folder / "out" / "verdicts.parquet")
    assert (verdicts.loc[verdicts["reviewer"] == "judge", "rationale"].fillna("") == "").all()
    return folder / "out"


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAIServer) -> Path:
    return fresh_run(tmp_path_factory.mktemp("explain-run"), fake)


@pytest.fixture
def run_dir(stored_run: Path, tmp_path: Path, fake: FakeOpenAIServer) -> Path:
    """The stored run and its cache, copied for one test (explain writes into the run's folder)."""
    shutil.copytree(stored_run.parent, tmp_path, dirs_exist_ok=True)
    fake.reset_stats()
    return tmp_path / "out"


def test_explain_generates_the_rationales_of_the_reports_exemplars_once(run_dir: Path, fake: FakeOpenAIServer) -> None:
    result = cli("explain", str(run_dir), cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the report's exemplars of the rationale-less LLM reviewer: its false positive and false negative
    by_item = {line.split()[0]: line for line in lines if line.startswith("i")}
    assert set(by_item) == {"i1", "i4"}, result.stdout
    assert "judge: actioned, agrees with the verdict actioned (score 0.80): Generated reason: violates HS1." in by_item["i1"]
    assert "judge: actioned, DISAGREES with the verdict allowed" in by_item["i4"]
    assert f"explanations.json: {run_dir / 'explanations.json'}" in lines
    assert fake.stats["requests"] == 2
    assert all(not r.body.get("logprobs") for r in fake.requests_log)  # generation mode: no score asked

    stored = json.loads((run_dir / "explanations.json").read_text(encoding="utf-8"))
    assert stored["schema_version"] == 1 and stored["run"] == "explain-test"
    i4 = next(e for e in stored["items"] if e["item_id"] == "i4")
    assert (i4["decision"], i4["verdict_decision"], i4["rationale"]) == ("actioned", "allowed",
                                                                         "Generated reason: violates HS1.")
    assert i4["opened_as"][0] == "false negative exemplar" and i4["reviewer"] == "judge"

    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Generated reason: violates HS1." in report and 'id="explanations"' in report
    # `report` re-renders from the record, explanations included
    again = cli("report", str(run_dir), cwd=run_dir.parent)
    assert again.returncode == 0 and "Generated reason: violates HS1." in (run_dir / "report.html").read_text("utf-8")

    second = cli("explain", str(run_dir), cwd=run_dir.parent)
    assert second.returncode == 0, second.stderr
    assert fake.stats["requests"] == 2, "the second explain asked the model again"
    assert "2 explained (0 model calls, 2 from the judgement cache)" in second.stdout


def test_named_items_are_explained_and_merged_into_the_file(run_dir: Path, fake: FakeOpenAIServer) -> None:
    result = cli("explain", str(run_dir), "--item", "i2", "--item", "i0", "--reviewer", "judge",
                 cwd=run_dir.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "explaining 2 verdicts of judge; each line as its answer arrives"
    assert [line.split()[0] for line in result.stdout.splitlines()[1:3]] == ["i2", "i0"]
    assert fake.stats["requests"] == 2
    cli("explain", str(run_dir), "--max", "1", cwd=run_dir.parent)
    stored = json.loads((run_dir / "explanations.json").read_text(encoding="utf-8"))
    assert sorted(e["item_id"] for e in stored["items"]) == ["i0", "i1", "i2"]


def test_an_answer_that_fails_is_listed_and_the_others_are_kept(run_dir: Path) -> None:
    result = cli("explain", str(run_dir), "--item", "i5", "--item", "i2", cwd=run_dir.parent)
    assert result.returncode == 3, result.stderr
    assert any(line.startswith("i2  judge: allowed, agrees") for line in result.stdout.splitlines()), result.stdout
    assert any(line.startswith("i5  judge: not explained (") and "re-run explain" in line
               for line in result.stdout.splitlines()), result.stdout
    stored = json.loads((run_dir / "explanations.json").read_text(encoding="utf-8"))
    assert [e["item_id"] for e in stored["items"]] == ["i2"]


def test_a_reviewer_that_wrote_its_rationale_is_shown_as_it_is(tmp_path: Path, server: FakeOpenAIServer) -> None:
    experiment = project(tmp_path, server.base_url)
    assert cli("run", str(experiment), "--no-track", "--quiet", "--out", str(tmp_path / "out"),
               cwd=tmp_path).returncode == 0
    server.reset_stats()
    one_line_error(cli("explain", str(tmp_path / "out"), cwd=tmp_path), "wrote its rationale with its verdict",
                   "--item")
    result = cli("explain", str(tmp_path / "out"), "--item", "i0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("i0  judge: actioned (the verdict's own rationale): Item "
                                                    "contains the VIOLATE")
    assert server.stats["requests"] == 0


def test_bad_input_is_one_sentence(run_dir: Path, tmp_path: Path) -> None:
    one_line_error(cli("explain", str(tmp_path / "nowhere"), cwd=tmp_path), "record.json")
    one_line_error(cli("explain", str(run_dir), "--item", "i9", cwd=tmp_path), "'i9'", "not in this run")
    one_line_error(cli("explain", str(run_dir), "--reviewer", "judg", cwd=tmp_path), "no reviewer 'judg'",
                   "Did you mean 'judge'?")
    one_line_error(cli("explain", str(run_dir), "--reviewer", "words", cwd=tmp_path), "not an LLM")
    one_line_error(cli("explain", str(run_dir), "--policy", "nope", cwd=tmp_path), "no policy version 'nope'")
    assert not (run_dir / "explanations.json").exists()


def test_an_unreachable_endpoint_is_one_sentence_and_keeps_what_was_explained(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=answer) as server:
        run_dir = fresh_run(tmp_path, server)
        assert cli("explain", str(run_dir), "--item", "i1", cwd=tmp_path).returncode == 0
    result = cli("explain", str(run_dir), "--item", "i2", cwd=tmp_path)
    one_line_error(result, "cannot reach the model endpoint")
    stored = json.loads((run_dir / "explanations.json").read_text(encoding="utf-8"))
    assert [e["item_id"] for e in stored["items"]] == ["i1"]

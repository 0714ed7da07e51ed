"""Rationale consistency: a scripted reviewer plants confused rationales; the run counts exactly those."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.llm import REPO_ROOT, write_items

import harness
from harness.config import parse_experiment
from harness.errors import HarnessError
from harness.pipeline.rescore import rescore
from harness.policy import load_policy
from harness.policy.structure import policy_structure
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

MODERATION = REPO_ROOT / "prompts" / "policies" / "moderation" / "v1.md"

# item text -> (violation, categories, rule_ids, rationale): what the scripted reviewer answers.
PLANTED: dict[str, tuple[bool, list[str], list[str], str]] = {
    "fine hate": (True, ["H"], ["H-R1"], "dehumanises a group"),  # consistent
    "fine allow": (False, [], ["H-E1"], "counter-speech"),  # consistent
    "only exception": (True, ["H"], ["H-E1"], "counter-speech, so it violates"),
    "allow citing rule": (False, [], ["H-R2"], "a slur, allowed"),
    "made-up id": (True, ["H"], ["H-R1", "H-R9"], "dehumanises"),
    "wrong category": (True, ["V"], ["H-R1"], "hateful"),
    "no reason": (False, [], [], ""),
    "two faults": (True, ["V"], ["H-E1"], ""),  # three checks, one inconsistent verdict
}
EXPECTED = {
    "violation_cites_only_exceptions": {"only-exception", "two-faults"},
    "allow_cites_only_rules": {"allow-citing-rule"},
    "unknown_ids": {"made-up-id"},
    "category_contradicts_rules": {"wrong-category"},
    "empty_rationale": {"no-reason", "two-faults"},
}


def scripted(request: dict[str, Any]) -> str:
    item = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
    violation, categories, rule_ids, rationale = PLANTED[item]
    return json.dumps({"violation": violation, "categories": categories, "rule_ids": rule_ids,
                       "confidence": 0.9, "rationale": rationale})


def experiment(tmp_path: Path, api_base: str, gates: dict[str, Any]) -> Any:
    rows = [(text.replace(" ", "-"), text, "hateful" if PLANTED[text][0] else "non-hateful") for text in PLANTED]
    items = write_items(tmp_path / "items.csv", rows)
    return parse_experiment({
        "name": "rationale", "policy": str(MODERATION),
        "eval_set": {"path": str(items), "columns": {"id": "id"}, "labels": {"hateful": "H", "non-hateful": "benign"}},
        "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base}],
        "gates": gates,
    })


def test_planted_inconsistent_rationales_are_counted_exactly(tmp_path: Path, cache_path: Path) -> None:
    with FakeOpenAIServer(responder=scripted) as server:
        record = harness.run(experiment(tmp_path, server.base_url, {"rationale_inconsistency": {"max": 0.02}}),
                             out_dir=tmp_path / "out", track=False)
    block = record.metrics.reviewers["fake"].rationale
    assert block is not None and block.judgements == len(PLANTED)
    assert {name: set(check.item_ids) for name, check in block.checks.items() if check.item_ids} == EXPECTED
    assert (block.inconsistent.k, block.inconsistent.n) == (6, 8)
    assert block.inconsistent.ci_low is not None and 0 < block.inconsistent.ci_low < 0.75 < block.inconsistent.ci_high
    [gate] = [g for g in record.metrics.reviewers["fake"].gates if g.metric == "rationale_inconsistency"]
    assert gate.status == "fail"
    on_disk = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert on_disk["reviewers"]["fake"]["rationale"]["inconsistent"]["k"] == 6
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="rationale"' in html and "answers violation but cites only exceptions" in html
    assert "## Rationale consistency" in (tmp_path / "out" / "report.md").read_text()
    rescored = rescore(tmp_path / "out", experiment_path=None, out_dir=tmp_path / "again", track=False)
    assert rescored.metrics.reviewers["fake"].rationale == block


def test_consistent_reviewer_passes_the_gate(tmp_path: Path, cache_path: Path) -> None:
    def consistent(request: dict[str, Any]) -> str:
        item = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
        violation = PLANTED[item][0]
        return json.dumps({"violation": violation, "categories": ["H"] if violation else [],
                           "rule_ids": ["H-R1"] if violation else ["H-E1"], "confidence": 0.9, "rationale": "why"})

    with FakeOpenAIServer(responder=consistent) as server:
        record = harness.run(experiment(tmp_path, server.base_url, {"rationale_inconsistency": {"max": 0.5}}),
                             out_dir=tmp_path / "out", track=False, report=False)
    block = record.metrics.reviewers["fake"].rationale
    assert block is not None and block.inconsistent.k == 0
    assert [g.status for g in record.metrics.reviewers["fake"].gates] == ["pass"]


def test_each_rule_belongs_to_the_category_its_id_or_section_names() -> None:
    structure = policy_structure(load_policy(MODERATION))
    assert structure.category_of["S3-R1"] == {"S3"} and structure.category_of["H-E1"] == {"H"}
    assert "H-E1" in structure.exceptions and "H-R1" in structure.rules
    single = policy_structure(load_policy(REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"))
    assert single.category_of["HS-E2"] == {"HS"} and "HS-E2" in single.exceptions


def test_a_rationale_gate_on_a_slice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="overall rate of inconsistent rationales"):
        experiment(tmp_path, "http://127.0.0.1:9/v1",
                   {"rationale_inconsistency": {"max": 0.02, "slice": {"language": "de"}}})


def test_a_reviewer_deciding_by_its_first_token_is_not_asked_for_a_rationale() -> None:
    from harness.pipeline.finish import rationale_reviewers
    from harness.record.header import ClassifierParams, LLMParams

    reviewers = {"writes": LLMParams(model="openai/x"), "first": LLMParams(model="local/smollm2", decide="first_token"),
                 "clf": ClassifierParams()}
    assert rationale_reviewers(reviewers) == {"writes"}

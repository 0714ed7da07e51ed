"""verdicts.parquet: list columns stay lists, the abstention kind is a column, and old runs still read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.records import scored_run

from harness.record import RECORD, VERDICTS, read_record
from harness.verdicts import (
    ABSTAINED,
    ACTIONED,
    ALLOWED,
    VERDICT_COLUMNS,
    AbstainKind,
    Verdict,
    read_verdicts,
    verdict_table,
    write_verdicts,
)

VERDICTS_OF_A_RUN = [Verdict("a", ACTIONED, categories=["HS", "HR"], rule_ids=["HS1"]),
                     Verdict("b", ALLOWED, rule_ids=["HS-E2"]),
                     Verdict.abstain("c", AbstainKind.CUT_OFF, "answer cut off at the token limit")]


def test_list_columns_and_the_kind_read_back_as_written(tmp_path: Path) -> None:
    write_verdicts(verdict_table(VERDICTS_OF_A_RUN, policy="p@v1", reviewer="llm"), tmp_path / VERDICTS)
    schema = pq.read_schema(tmp_path / VERDICTS)
    assert schema.field("categories").type == pa.list_(pa.string())
    again = read_verdicts(tmp_path / VERDICTS)
    assert list(again.columns) == VERDICT_COLUMNS
    assert again["categories"].tolist() == [["HS", "HR"], [], []]
    assert again["rule_ids"].tolist() == [["HS1"], ["HS-E2"], []]
    assert again["abstain_kind"].tolist() == ["", "", "cut_off"]


def test_a_table_of_empty_lists_is_still_list_of_string(tmp_path: Path) -> None:
    """Arrow infers list<null> when every list is empty; readers of the file expect one type."""
    write_verdicts(verdict_table([Verdict("b", ALLOWED)], policy="p@v1", reviewer="clf"), tmp_path / VERDICTS)
    assert pq.read_schema(tmp_path / VERDICTS).field("rule_ids").type == pa.list_(pa.string())


def test_a_run_written_before_the_verdict_was_typed_still_reads(tmp_path: Path) -> None:
    """';'-joined categories and rule_ids, no abstain_kind column: the record reads with lists and kinds."""
    _, out = scored_run(tmp_path)
    old = pd.DataFrame({"policy": "p@v1", "reviewer": "llm", "item_id": ["a", "b", "c"], "sample": 0,
                        "decision": [ACTIONED, ALLOWED, ABSTAINED], "categories": ["HS;HR", "", ""],
                        "rule_ids": ["HS1;HS2", "HS-E2", ""], "abstain_reason": ["", "", "refusal: I can't"]})
    old.to_parquet(out / VERDICTS, index=False)
    header = json.loads((out / RECORD).read_text(encoding="utf-8"))
    header["files"][VERDICTS] = hashlib.sha256((out / VERDICTS).read_bytes()).hexdigest()
    (out / RECORD).write_text(json.dumps(header), encoding="utf-8")
    verdicts = read_record(out).verdicts
    assert verdicts["categories"].tolist() == [["HS", "HR"], [], []]
    assert verdicts["rule_ids"].tolist() == [["HS1", "HS2"], ["HS-E2"], []]
    assert verdicts["abstain_kind"].tolist() == ["", "", AbstainKind.REFUSAL]


def test_a_table_of_bare_decisions_is_the_table_of_their_verdicts() -> None:
    from harness.verdicts import ABSTAINED, Decision, Verdict, decision_table, verdict_table

    ids, decisions = ["a", "b", "c"], ["actioned", "abstained", "allowed"]
    one_by_one = verdict_table([Verdict.abstain(i, AbstainKind.NO_DECISION, "no decision") if d == ABSTAINED
                                else Verdict(i, Decision(d)) for i, d in zip(ids, decisions, strict=True)],
                               policy="p", reviewer="r")
    columns = decision_table(ids, decisions, policy="p", reviewer="r", abstain_kind=AbstainKind.NO_DECISION,
                             abstain_reason="no decision")
    pd.testing.assert_frame_equal(one_by_one, columns)
    with pytest.raises(ValueError, match="not a decision"):
        decision_table(["a"], ["maybe"], policy="p", reviewer="r", abstain_kind=AbstainKind.NO_DECISION,
                       abstain_reason="no decision")


def test_a_file_from_before_score_sources_says_where_an_llm_score_came_from(tmp_path: Path) -> None:
    """Before `score_source`, an LLM verdict's score was its stated confidence; a classifier's has none beside it."""
    old = verdict_table([Verdict("a", ACTIONED, score=0.8, confidence=0.8), Verdict("b", ALLOWED, score=0.3),
                         Verdict("c", ALLOWED)], policy="p@v1", reviewer="r").drop(columns="score_source")
    write_verdicts(old, tmp_path / VERDICTS)
    again = read_verdicts(tmp_path / VERDICTS)
    assert list(again.columns) == VERDICT_COLUMNS
    assert again["score_source"].tolist() == ["confidence", "", ""]

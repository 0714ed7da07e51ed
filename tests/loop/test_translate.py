"""`translate`: a scripted author translates (with one known defect), native speakers review the sheet,
and the translated set shows the defect as a consistency split beside the origin slice."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from support.llm import V2

import harness
from harness._cli.main import main
from harness.config import parse_experiment
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text


def author(request: dict[str, Any]) -> str:
    """'[de] <text>'; the French translation of item h1 loses its meaning (a known defect)."""
    system = request["messages"][0]["content"]
    if "translate content-moderation test items" not in system:  # a reviewer call: judge by the marker
        violating = "VIOLATE" in item_section(last_user_text(request))
        return json.dumps({"violation": violating, "categories": ["HS"] if violating else [], "rule_ids": [],
                           "confidence": 0.9, "rationale": "r"})
    tag = re.search(r"tag '([^']+)'", system).group(1)  # type: ignore[union-attr]
    text = item_section(last_user_text(request)).rsplit("<<<END ITEM>>>", 1)[0].strip()
    if tag == "fr" and "h1" in text:
        return "[fr] une phrase anodine h1"
    return f"[{tag}] {text}"


def setup(tmp_path: Path, api_base: str, **author_keys: Any) -> Path:
    rows = [("h0", "VIOLATE h0", "hateful", "en"), ("h1", "VIOLATE h1", "hateful", "en"),
            ("b0", "kind b0", "non-hateful", "en"), ("d0", "VIOLATE d0", "hateful", "de")]
    pd.DataFrame(rows, columns=["id", "text", "label", "language"]).to_csv(tmp_path / "items.csv", index=False)
    experiment = {
        "name": "tr", "policy": str(V2),
        "eval_set": {"path": "items.csv", "columns": {"id": "id", "slices": ["language"]},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": api_base}],
        "author": {"model": "openai/fake-author", "api_base": api_base, **author_keys},
    }
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(experiment))
    return tmp_path / "x.yaml"


def test_translate_review_and_judge(tmp_path: Path, cache_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responder=author) as server:
        x = setup(tmp_path, server.base_url)
        assert main(["translate", str(x), "--to", "de,fr", "--out", str(tmp_path / "t")]) == 0
        # one request per item and target language; d0 is German already, so it goes to French only
        assert server.stats["requests"] == 4 + 3
        items = pd.read_csv(tmp_path / "t" / "items.csv", dtype=str, keep_default_na=False).set_index("id")
        assert items.loc["h0@de"].to_dict() == {"text": "[de] VIOLATE h0", "label": "HS", "language": "de",
                                                "origin": "machine_translated", "parallel_id": "h0"}
        assert items.loc["h0", "origin"] == "native" and items.loc["h0", "parallel_id"] == "h0"
        assert "d0@de" not in items.index and items.loc["d0@fr", "label"] == "HS"
        sheet = pd.read_csv(tmp_path / "t" / "review.csv", dtype=str, keep_default_na=False)
        assert list(sheet.columns) == ["id", "source_id", "language", "source_text", "text", "label", "review", "reason"]
        assert len(sheet) == 7 and set(sheet["review"]) == {""}
        assert sheet.set_index("id").loc["h1@fr", "source_text"] == "VIOLATE h1"

        # the run over the machine translations: the French defect splits group h1
        data = yaml.safe_load(x.read_text())
        data["eval_set"] = yaml.safe_load((tmp_path / "t" / "eval_set.yaml").read_text())["eval_set"]
        assert data["eval_set"]["columns"]["slices"] == ["language", "origin"]
        data["eval_set"]["path"] = str(tmp_path / "t" / "items.csv")
        run = parse_experiment(data)
        record = harness.run(run, out_dir=tmp_path / "run", track=False)
        # a second translate answers from the cache: no new request
        before = server.stats["requests"]
        assert main(["translate", str(x), "--to", "de,fr", "--out", str(tmp_path / "t2")]) == 0
        assert server.stats["requests"] == before
    metrics = record.metrics.reviewers["fake"]
    assert metrics.consistency is not None and [s.parallel_id for s in metrics.consistency.split] == ["h1"]
    assert metrics.consistency.split[0].decisions == {"de": "actioned", "en": "actioned", "fr": "allowed"}
    assert set(metrics.slices["origin"]) == {"native", "machine_translated"}
    # French rests on machine translations alone; German has a native item (d0) beside three translations
    assert metrics.consistency.machine_only == ["fr"]
    assert metrics.consistency.origins == {"de": {"machine_translated": 3, "native": 1}, "en": {"native": 3},
                                           "fr": {"machine_translated": 4}}
    assert "Only machine-translated items in: fr" in (tmp_path / "run" / "report.html").read_text()
    assert "machine_translated" in (tmp_path / "run" / "report.md").read_text()

    # native speakers: fix the defect, reject one, relabel one with a reason, accept the rest
    sheet["review"] = "accept"
    sheet.loc[sheet["id"] == "h1@fr", ["review", "text"]] = ["fix", "[fr] VIOLATE h1 corrigé"]
    sheet.loc[sheet["id"] == "b0@fr", "review"] = "reject"
    sheet.loc[sheet["id"] == "b0@de", ["label", "reason"]] = ["HS", "the German word is a slur"]
    sheet.to_csv(tmp_path / "t" / "review.csv", index=False)
    capsys.readouterr()
    assert main(["translate", "--reviewed", str(tmp_path / "t" / "review.csv"), "--out", str(tmp_path / "r")]) == 0
    reviewed = pd.read_csv(tmp_path / "r" / "items.csv", dtype=str, keep_default_na=False).set_index("id")
    assert "b0@fr" not in reviewed.index and len(reviewed) == 4 + 6
    assert reviewed.loc["h1@fr", "text"] == "[fr] VIOLATE h1 corrigé"
    assert reviewed.loc["b0@de", "label"] == "HS" and reviewed.loc["h0@de", "origin"] == "reviewed_translation"
    assert reviewed.loc["h0", "origin"] == "native"
    assert "6 reviewed translations" in capsys.readouterr().out
    assert "parallel_id: parallel_id" in (tmp_path / "r" / "eval_set.yaml").read_text()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.assign(id=s["id"].str.replace("h0@de", "h0@de-edited")), "row id 'h0@de-edited' is not a translation"),
    (lambda s: s.assign(label=s["label"].where(s["id"] != "b0@de", "HS")), "changes the label from 'benign' to 'HS' without a reason"),
    (lambda s: s.assign(review=s["review"].where(s["id"] != "b0@de", "maybe")), "has review 'maybe'; write accept, fix"),
    (lambda s: s.assign(review=s["review"].where(s["id"] != "b0@de", "fix")), "is marked fix but its text is unchanged"),
])
def test_bad_review_sheets_are_one_line(tmp_path: Path, cache_path: Path, capsys: pytest.CaptureFixture[str],
                                        edit: Any, message: str) -> None:
    with FakeOpenAIServer(responder=author) as server:
        x = setup(tmp_path, server.base_url)
        assert main(["translate", str(x), "--to", "de", "--out", str(tmp_path / "t")]) == 0
    sheet = pd.read_csv(tmp_path / "t" / "review.csv", dtype=str, keep_default_na=False).assign(review="accept")
    edit(sheet).to_csv(tmp_path / "t" / "review.csv", index=False)
    capsys.readouterr()
    assert main(["translate", "--reviewed", str(tmp_path / "t" / "review.csv"), "--out", str(tmp_path / "r")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert message in line and "review.csv" in line
    assert not (tmp_path / "r" / "items.csv").exists()


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "is hosted and has no budget; add author.max_cost_usd"),
    ({"max_cost_usd": 1.0}, "has no known price"),
])
def test_a_hosted_author_needs_a_budget_and_a_price(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    keys: dict[str, Any], message: str) -> None:
    x = setup(tmp_path, "http://127.0.0.1:9/v1")
    data = yaml.safe_load(x.read_text())
    data["author"] = {"model": "openai/no-such-hosted-model", **keys}
    x.write_text(yaml.safe_dump(data))
    assert main(["translate", str(x), "--to", "de", "--out", str(tmp_path / "t")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert message in line and "x.yaml" in line


def test_target_tags_are_bcp47(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = setup(tmp_path, "http://127.0.0.1:9/v1")
    assert main(["translate", str(x), "--to", "de,french", "--out", str(tmp_path / "t")]) == 2
    assert "'french' is not a BCP 47 language tag; write 'fr'" in capsys.readouterr().err

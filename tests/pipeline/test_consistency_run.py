"""A run over parallel items with a scripted model: known splits and per-language flips reach
metrics.json and both reports, with the figures of a direct count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import binomtest
from support.llm import V2

import harness
from harness.config import parse_experiment
from harness.testing.openai_server import FakeOpenAIServer, item_section, last_user_text

VERDICT = '{{"violation": {v}, "categories": {c}, "rule_ids": [], "confidence": 0.9, "rationale": "r"}}'
GROUPS = 30
DE_MISSES = {0, 2, 4, 6, 8, 10, 12}  # the German translation of these hateful items is allowed


def judge(request: dict[str, Any]) -> str:
    """Actions items marked HATE; German items marked MISS slip through."""
    item = item_section(last_user_text(request))
    violating = "HATE" in item and "MISS" not in item
    return VERDICT.format(v=str(violating).lower(), c='["HS"]' if violating else "[]")


def items(path: Path) -> Path:
    rows = []
    for g in range(GROUPS):
        hateful = g % 2 == 0
        for lang in ("en", "de"):
            mark = ("HATE" if hateful else "kind") + (" MISS" if lang == "de" and g in DE_MISSES else "")
            rows.append((f"{lang}-{g}", f"{lang} item {g} {mark}", "hateful" if hateful else "non-hateful", lang,
                         f"g{g:02d}"))
    pd.DataFrame(rows, columns=["id", "text", "label", "language", "group"]).to_csv(path, index=False)
    return path


def test_consistency_reaches_metrics_and_reports(tmp_path: Path, cache_path: Path) -> None:
    with FakeOpenAIServer(responder=judge) as server:
        experiment = parse_experiment({
            "name": "parallel", "policy": str(V2),
            "eval_set": {"path": str(items(tmp_path / "items.csv")),
                         "columns": {"id": "id", "slices": ["language"], "parallel_id": "group"},
                         "labels": {"hateful": "HS", "non-hateful": "benign"}},
            "reviewers": [{"name": "fake", "type": "llm", "model": "openai/fake-model", "api_base": server.base_url}],
        })
        harness.run(experiment, out_dir=tmp_path / "out", track=False)
    block = json.loads((tmp_path / "out" / "metrics.json").read_text())["reviewers"]["fake"]["consistency"]
    assert block["groups"] == GROUPS
    assert (block["identical"]["k"], block["identical"]["n"]) == (GROUPS - len(DE_MISSES), GROUPS)
    [pair] = block["pairs"]
    assert (pair["first"], pair["second"], pair["first_only"], pair["second_only"]) == ("de", "en", 0, len(DE_MISSES))
    assert pair["p"] == binomtest(0, len(DE_MISSES)).pvalue and pair["p_holm"] == pair["p"] and pair["flag"]
    assert [s["parallel_id"] for s in block["split"]] == [f"g{g:02d}" for g in sorted(DE_MISSES)]
    assert block["split"][0]["decisions"] == {"de": "allowed", "en": "actioned"}
    assert block["cochran_q"] is None
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Consistency across languages" in markdown and "23/30" in markdown and "| g00 |" in markdown
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="consistency"' in html and "en actions content that de allows more often" in html
    assert '<a href="#consistency">Consistency</a>' in html  # the table of contents leads to it

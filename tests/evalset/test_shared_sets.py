"""The example experiments on the four public data sets in ../shared/data: each loads in full with
the right labels, and runs end to end on a seeded sample (skipped when the data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness._cli.main import main
from harness.config import load_experiment
from harness.pipeline.run import load_inputs, run
from harness.record import RunRecord

LIMIT = 300


@pytest.fixture(autouse=True)
def at_repo_root(repo_root: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # experiments name ../shared/data relative to the repository root, as the README runs them
    monkeypatch.chdir(repo_root)


def sample_run(name: str, tmp_path: Path) -> RunRecord:
    return run(load_experiment(f"experiments/{name}.yaml"), out_dir=tmp_path / name, limit=LIMIT,
               track=False, report=False)


def test_every_experiment_validates() -> None:
    for path in sorted(Path("experiments").glob("*.yaml")):
        candidate, _, evalset = load_inputs(load_experiment(path))
        assert len(evalset) > 0 and candidate.category_ids, path


def test_hatecheck(tmp_path: Path) -> None:
    record = sample_run("hatecheck", tmp_path)
    assert len(record.items) == LIMIT and (record.evalset.license or "").startswith("CC-BY-4.0")
    metrics = record.metrics.model_dump(mode="json")["reviewers"]["tfidf-lr"]
    assert metrics["over_enforcement"]["n"] + metrics["leakage"]["n"] == LIMIT
    assert {"counter_quote_nh", "negate_neg_nh"} <= set(metrics["slices"]["functionality"])
    # The classifier does not read the policy text: judged once, no comparison by construction zero.
    assert "tfidf-lr" not in record.metrics.model_dump(mode="json")["comparison"]
    assert set(record.verdicts["policy"]) == {record.candidate}


def test_multilingual_hatecheck_languages_and_contested_gold(shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "multilingual_hatecheck").glob("hatecheck_cases_final_*.csv"))
    raw = {f.stem.removeprefix("hatecheck_cases_final_"): pd.read_csv(f) for f in files}
    _, _, evalset = load_inputs(load_experiment("experiments/multilingual_hatecheck.yaml"))
    items = evalset.items
    assert len(raw) == 10 and len(items) == sum(len(t) for t in raw.values())
    assert items["language"].value_counts().to_dict() == {k: len(t) for k, t in raw.items()}
    assert int(items["contested"].sum()) == sum(int(t["disagreement_in_case"].sum()) for t in raw.values())

    record = sample_run("multilingual_hatecheck", tmp_path)
    metrics = record.metrics.model_dump(mode="json")["reviewers"]["tfidf-lr"]
    languages = metrics["languages"]
    assert languages["column"] == "language" and set(languages["by_language"]) == set(raw)
    for row in languages["by_language"].values():
        assert {"over_enforcement", "leakage", "over_enforcement_vs_rest", "leakage_vs_rest"} <= set(row)
    contested = int(record.items["contested"].sum())
    assert contested > 0
    without = metrics["without_contested"]
    assert without["excluded"] == contested and without["items"] == LIMIT - contested
    assert set(without["slices"]["language"]) <= set(raw)
    assert record.metrics.model_dump(mode="json")["relabel_candidates"]["total"] >= len(record.metrics.model_dump(mode="json")["relabel_candidates"]["items"])


def test_openai_moderation_multi_label_with_unknown_labels(shared_data: Path, tmp_path: Path) -> None:
    categories = ["S", "H", "V", "HR", "SH", "S3", "H2", "V2"]
    rows = [json.loads(line) for line in
            (shared_data / "openai_moderation" / "samples-1680.jsonl").read_text(encoding="utf-8").splitlines()]
    violating = sum(any(r.get(c) == 1 for c in categories) for r in rows)
    benign = sum(all(r.get(c) == 0 for c in categories) for r in rows)
    _, _, evalset = load_inputs(load_experiment("experiments/openai_moderation.yaml"))
    gold = evalset.items["gold"]
    assert ((gold != "benign") & (gold != "unknown")).sum() == violating
    assert (gold == "benign").sum() == benign
    assert (gold == "unknown").sum() == len(rows) - violating - benign > 0
    missing_h = sum("H" not in r for r in rows)
    assert evalset.items["gold_unknown"].str.split(";").map(lambda u: "H" in u).sum() == missing_h

    # through the CLI, report included: the reproduction command of the README, on a sample
    out = tmp_path / "openai"
    assert main(["run", "experiments/openai_moderation.yaml", "--limit", str(LIMIT), "--no-track",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["reviewers"]["tfidf-lr"]
    assert metrics["unknown"] > 0 and metrics["items"] == LIMIT
    assert metrics["over_enforcement"]["n"] + metrics["leakage"]["n"] == LIMIT - metrics["unknown"]
    assert set(metrics["categories"]) == set(categories)
    for cid in categories:
        entry = metrics["categories"][cid]
        assert entry["unknown"] > 0  # every category has missing labels in this set
        assert entry["category_false_positive"]["n"] <= LIMIT - entry["unknown"] - entry["items"]
    assert (out / "report.html").is_file()


def test_davidson_offensive_is_an_over_enforcement_slice(shared_data: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(shared_data / "davidson_hate_offensive" / "labeled_data.csv")
    _, _, evalset = load_inputs(load_experiment("experiments/davidson.yaml"))
    names = {0: "hate", 1: "offensive", 2: "neither"}
    assert evalset.items["class"].value_counts().to_dict() == raw["class"].map(names).value_counts().to_dict()
    assert set(evalset.items.loc[evalset.items["gold"] == "HS", "class"]) == {"hate"}

    record = sample_run("davidson", tmp_path)
    offensive = record.metrics.model_dump(mode="json")["reviewers"]["tfidf-lr"]["slices"]["class"]["offensive"]
    assert offensive["violating"] == 0 and offensive["over_enforcement"]["n"] == offensive["items"]
    assert offensive["leakage"]["n"] == 0
    gate = next(g for g in record.metrics.model_dump(mode="json")["reviewers"]["tfidf-lr"]["gates"] if g["gate"] == "over_enforcement@offensive")
    assert gate["scope"] == "class = offensive" and gate["value"]["n"] == offensive["items"]

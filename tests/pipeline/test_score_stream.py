"""`score` streams and collapses a prediction log: the same metrics.json as one row per item, in
CSV and Parquet, with the file's errors named by row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.metrics import close

from harness.errors import HarnessError
from harness.pipeline.score import score_file
from harness.record import read_record, write_record

REPO_ROOT = Path(__file__).resolve().parents[2]
DAVIDSON = Path("/work/shared/data/davidson_hate_offensive/labeled_data.csv")


def metrics_json(tmp: Path, name: str, **kwargs: Any) -> dict[str, Any]:
    record = score_file(**kwargs)
    write_record(record, tmp / name)
    return json.loads((tmp / name / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.skipif(not DAVIDSON.exists(), reason="the licensed Davidson data set is not on this machine")
def test_collapsed_davidson_gives_the_metrics_of_one_row_per_item(tmp_path: Path) -> None:
    # 24,783 tweets; gold is the majority class (2 = neither), the "decisions" are annotator
    # counts: any non-zero count of hate_speech / offensive_language votes actions the tweet.
    args: dict[str, Any] = dict(path=str(DAVIDSON), gold="class", preds=["hate_speech", "offensive_language"],
                                benign=["2", "0"], slices=["count"], text_column="tweet")
    per_item = metrics_json(tmp_path, "all", keep_items=None, **args)
    collapsed = metrics_json(tmp_path, "collapsed", keep_items=0, **args)
    # Exemplars name items, and a collapsed row names one of those it stands for; their totals must agree.
    for metrics in (per_item, collapsed):
        for errors in metrics["errors"]["reviewers"].values():
            for chosen in errors["exemplars"]:
                chosen.pop("items")
    assert per_item == collapsed
    assert per_item["reviewers"]["hate_speech"]["items"] == 24_783
    kept = pd.read_parquet(tmp_path / "collapsed" / "items.parquet")
    assert len(kept) < 24_783 / 4 and kept["_count"].sum() == 24_783


def synthetic(n: int = 6000, seed: int = 5) -> pd.DataFrame:
    """Slices, a stratum with one weight each, 10% blank gold, 2% blank decisions; combinations with
    more than 200 items, so the collapsed table keeps only some of their ids."""
    rng = np.random.default_rng(seed)
    gold = np.array(["benign", "HS", "VS"], dtype=object)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    stratum = rng.integers(0, 2, n)
    frame = pd.DataFrame({"id": [f"x{i}" for i in range(n)], "text": [f"item {i}" for i in range(n)],
                          "gold": np.where(rng.random(n) < 0.1, None, gold),
                          "lang": np.array(["en", "de"], dtype=object)[rng.integers(0, 2, n)],
                          "stratum": np.array(["feed", "ads"], dtype=object)[stratum],
                          "weight": np.array([1.0, 3.0])[stratum]})
    for pred, error in (("a", 0.3), ("b", 0.4)):
        actioned = (gold != "benign") != (rng.random(n) < error)
        frame[pred] = np.where(rng.random(n) < 0.02, None, np.where(actioned, gold, "benign"))
    return frame


SYNTHETIC_ARGS: dict[str, Any] = dict(gold="gold", preds=["a", "b"], slices=["lang"], id_column="id",
                                      text_column="text", weight="weight", strata="stratum")


def test_weights_strata_and_unlabelled_rows_survive_collapsing(tmp_path: Path) -> None:
    synthetic().to_csv(tmp_path / "log.csv", index=False)
    per_item = metrics_json(tmp_path, "all", path=str(tmp_path / "log.csv"), keep_items=None, **SYNTHETIC_ARGS)
    collapsed = metrics_json(tmp_path, "collapsed", path=str(tmp_path / "log.csv"), keep_items=0, **SYNTHETIC_ARGS)
    close(per_item, collapsed)
    a = collapsed["reviewers"]["a"]
    assert "weighted" in a and a["weighted"]["over_enforcement"]["rate"] is not None
    assert collapsed["prediction_powered"]["a"]["unlabelled"] > 500
    assert collapsed["relabel_candidates"]["total"] > 200 and len(collapsed["relabel_candidates"]["items"]) == 200


def test_csv_and_parquet_give_the_same_metrics(tmp_path: Path) -> None:
    frame = synthetic()
    frame.to_csv(tmp_path / "log.csv", index=False)
    frame.to_parquet(tmp_path / "log.parquet", index=False)
    from_csv = metrics_json(tmp_path, "csv", path=str(tmp_path / "log.csv"), keep_items=0, **SYNTHETIC_ARGS)
    from_parquet = metrics_json(tmp_path, "pq", path=str(tmp_path / "log.parquet"), keep_items=0, **SYNTHETIC_ARGS)
    assert from_csv == from_parquet


def test_a_collapsed_record_reads_back_and_rescores_to_the_same_metrics(tmp_path: Path) -> None:
    from harness.pipeline.rescore import rescore

    synthetic().drop(columns=["weight", "stratum"]).dropna(subset=["gold"]).to_csv(tmp_path / "log.csv", index=False)
    record = score_file(str(tmp_path / "log.csv"), gold="gold", preds=["a", "b"], slices=["lang"], id_column="id",
                        keep_items=0)
    write_record(record, tmp_path / "scored")
    again = rescore(tmp_path / "scored", experiment_path=None, out_dir=tmp_path / "rescored", track=False)
    gold_rows = int(synthetic()["gold"].notna().sum())
    assert len(record.items) < gold_rows / 2 and record.metrics.reviewers["a"].items == gold_rows
    assert again.metrics.reviewers == record.metrics.reviewers
    assert len(read_record(tmp_path / "rescored").items) == len(record.items)


def score_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "harness", "score", *args, "--no-track", "--out", "out"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_duplicate_id_names_both_rows(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c", "b"], "gold": ["hate", "benign", "hate", "benign"],
                          "model": ["hate", "hate", "benign", "benign"]})
    path = tmp_path / f"log.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path, index=False)
    result = score_cli(tmp_path, path.name, "--gold", "gold", "--pred", "model", "--id", "id")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "id 'b' appears twice (rows 2 and 4)" in result.stderr


def test_a_bad_weight_names_its_row(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("gold,model,w\nhate,hate,1\nbenign,hate,2\nbenign,benign,-3\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="row 3 has weight '-3'"):
        score_file(str(tmp_path / "log.csv"), gold="gold", preds=["model"], weight="w")

"""Parallel items: `columns.parallel_id` (one column or several) groups translations; their gold must agree."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.llm import V2

from harness._cli.main import main
from harness.config import EvalSetConfig, load_experiment
from harness.evalset import load_evalset
from harness.pipeline.run import load_inputs

LABELS = {"hateful": "HS", "non-hateful": "benign"}


def write(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    pd.DataFrame(rows, columns=["id", "text", "label", "language", "source"]).to_csv(path, index=False)
    return path


def test_parallel_id_travels_with_the_items_and_changes_the_hash(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [("1", "I hate them", "hateful", "en", "s1"),
                                      ("2", "Ich hasse sie", "hateful", "de", "s1"),
                                      ("3", "hello", "non-hateful", "en", "")])
    plain = load_evalset(EvalSetConfig(path=str(path), columns={"id": "id", "slices": ["language"]}, labels=LABELS))
    grouped = load_evalset(EvalSetConfig(path=str(path), labels=LABELS,
                                         columns={"id": "id", "slices": ["language"], "parallel_id": "source"}))
    assert grouped.items.set_index("item_id")["parallel_id"].to_dict() == {"1": "s1", "2": "s1", "3": ""}
    assert "parallel_id" not in plain.items and grouped.sha256 != plain.sha256
    assert grouped.slices == ["language"]  # the group is not a slice: no rate per group


def test_several_columns_make_one_key(tmp_path: Path) -> None:
    """Multilingual HateCheck's recipe: functionality + template + target aligns the languages' files."""
    rows = pd.DataFrame({"id": ["de-1", "fr-1", "de-2", "fr-2"], "text": ["a", "b", "c", "d"],
                         "label": ["hateful"] * 4, "functionality": ["derog", "derog", "derog", "derog"],
                         "templ_id": [1.0, 1.0, 1.0, 2.0], "target": ["women", "women", None, None]})
    rows.to_csv(tmp_path / "m.csv", index=False)
    items = load_evalset(EvalSetConfig(path=str(tmp_path / "m.csv"), labels=LABELS, columns={
        "id": "id", "parallel_id": ["functionality", "templ_id", "target"]})).items
    assert items["parallel_id"].tolist() == ["derog | 1 | women", "derog | 1 | women", "derog | 1 | ", "derog | 2 | "]


def test_validate_names_the_group_whose_gold_disagrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "bad.csv", [("1", "I hate them", "hateful", "en", "s1"),
                                        ("2", "Ich hasse sie", "non-hateful", "de", "s1"),
                                        ("3", "hello", "non-hateful", "en", "s2")])
    (tmp_path / "x.yaml").write_text(f"""name: parallel
policy: {V2}
eval_set:
  path: {path}
  columns: {{id: id, slices: [language], parallel_id: source}}
  labels: {{hateful: HS, non-hateful: benign}}
reviewers:
  - {{name: clf, type: classifier}}
""")
    assert main(["validate", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "parallel group 's1'" in err[0] and "'1' HS" in err[0] and "'2' benign" in err[0]
    assert "bad.csv" in err[0]


def test_a_missing_parallel_column_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [("1", "x", "hateful", "en", "s1")])
    with pytest.raises(Exception, match=r"column 'group' \(eval_set.columns.parallel_id in the experiment\)"):
        load_evalset(EvalSetConfig(path=str(path), labels=LABELS, columns={"id": "id", "parallel_id": "group"}))


def test_multilingual_hatecheck_aligns_by_functionality_template_and_target(shared_data: Path) -> None:
    """The shipped experiment's key; the share docs/multilingual.md quotes."""
    _, _, evalset = load_inputs(load_experiment("experiments/multilingual_hatecheck.yaml"))
    items = evalset.items
    languages = items.groupby("parallel_id")["language"].nunique()
    assert len(languages) == 8845 and int((languages >= 2).sum()) == 4840 and int((languages == 10).sum()) == 1321
    assert items["parallel_id"].map(languages).ge(2).mean() == pytest.approx(0.884, abs=0.001)

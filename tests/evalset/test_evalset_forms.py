"""Eval sets as they arrive: headerless and unquoted files, one item per line, values from file paths,
raw annotations (wide and long) with gold decided by a rule, and every mistake as one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import EvalSetConfig, parse_experiment
from harness.errors import HarnessError
from harness.evalset import CONTESTED, GOLD, ID, TEXT, load_evalset

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY = REPO_ROOT / "prompts" / "policies" / "hate_speech" / "v2.md"
LABELS = {"hate": "HS", "none": "benign"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, **config: Any):
    return load_evalset(EvalSetConfig(**config), base_dir=tmp_path)


def error(tmp_path: Path, **config: Any) -> str:
    with pytest.raises(HarnessError) as info:
        load(tmp_path, **config)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- headerless and unquoted delimited files -------------------------------------------------

def test_headerless_tsv_is_unquoted_by_default(tmp_path: Path) -> None:
    rows = ['"they" are all the same\thate\tgeneralisation', 'a "quoted" word inside\tnone\tneutral',
            'ends with a quote"\tnone\tneutral']
    path = write(tmp_path / "shared_task.tsv", "\n".join(rows) + "\n")
    evalset = load(tmp_path, path=str(path), header=False, names=["text", "coarse", "fine"],
                   columns={"label": "coarse", "slices": ["fine"]}, labels=LABELS)
    assert list(evalset.items[TEXT]) == [r.split("\t")[0] for r in rows]
    assert list(evalset.items[GOLD]) == ["HS", "benign", "benign"]
    assert list(evalset.items["fine"]) == ["generalisation", "neutral", "neutral"]


def test_headed_tsv_keeps_a_leading_quote_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "headed.tsv", 'text\tlabel\n"unbalanced start\thate\nplain\tnone\n')
    evalset = load(tmp_path, path=str(path), labels=LABELS)
    assert list(evalset.items[TEXT]) == ['"unbalanced start', "plain"]


def test_quoting_csv_opts_back_in_for_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "quoted.tsv", '"one\tcell with a tab"\thate\n"two\nlines"\tnone\n')
    evalset = load(tmp_path, path=str(path), header=False, names=["text", "label"], quoting="csv", labels=LABELS)
    assert list(evalset.items[TEXT]) == ["one\tcell with a tab", "two\nlines"]
    message = error(tmp_path, path=str(path), header=False, names=["text", "label"], labels=LABELS)
    assert "line 1" in message and "quoting: csv" in message


def test_txt_file_read_as_tab_separated_through_format(tmp_path: Path) -> None:
    path = write(tmp_path / "dev.txt", "1\tgo away\thate\n2\tgood morning\tnone\n")
    evalset = load(tmp_path, path=str(path), format="tsv", header=False, names=["id", "text", "label"],
                   columns={"id": "id"}, labels=LABELS)
    assert list(evalset.items[ID]) == ["1", "2"] and list(evalset.items[GOLD]) == ["HS", "benign"]


def test_headerless_csv_is_quoted(tmp_path: Path) -> None:
    path = write(tmp_path / "set.csv", '"hello, world",none\nbye,hate\n')
    evalset = load(tmp_path, path=str(path), header=False, names=["text", "label"], labels=LABELS)
    assert list(evalset.items[TEXT]) == ["hello, world", "bye"]


def test_row_with_the_wrong_number_of_fields_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.tsv", "a\thate\tx\n\nb\tnone\n")
    message = error(tmp_path, path=str(path), header=False, names=["text", "label", "fine"], labels=LABELS)
    assert "line 3" in message and "ragged.tsv" in message and "3 columns" in message


def test_a_repeated_header_name_matters_only_when_used(tmp_path: Path) -> None:
    for name, sep in (("twice.csv", ","), ("twice.tsv", "\t")):
        path = write(tmp_path / name, sep.join(["text", "note", "note", "label"]) + "\n"
                     + sep.join(["hi", "a", "b", "none"]) + "\n")
        assert list(load(tmp_path, path=str(path), labels=LABELS).items[TEXT]) == ["hi"]
        message = error(tmp_path, path=str(path), labels=LABELS, columns={"slices": ["note"]})
        assert "'note' appears twice" in message and name in message


def test_headerless_config_mistakes(tmp_path: Path) -> None:
    base = {"name": "x", "policy": "p.md", "reviewers": [{"name": "c", "type": "classifier"}]}
    for eval_set, needle in (({"path": "a.tsv", "header": False}, "needs 'names'"),
                             ({"path": "a.tsv", "names": ["text"]}, "header: false"),
                             ({"path": "a.tsv", "header": False, "names": ["t", "t"]}, "'t' is listed twice"),
                             ({"path": "a.txt", "format": "lines", "quoting": "csv"}, "not format 'lines'")):
        with pytest.raises(HarnessError, match=needle):
            parse_experiment({**base, "eval_set": eval_set})


# --- one item per line, values from paths ----------------------------------------------------

def test_lines_from_globs_with_label_and_target_from_the_file_name(tmp_path: Path) -> None:
    write(tmp_path / "gen" / "hate_women.txt", "first post\n\n\"quoted start\n  \nlast post\n")
    write(tmp_path / "gen" / "none_women.txt", "a kind word\n")
    write(tmp_path / "gen" / "extra" / "hate_migrants.txt", "coded message\n")
    write(tmp_path / "gen" / "readme.md", "not an item\n")
    evalset = load(tmp_path, path=["gen/*.txt", "gen/**/hate_m*.txt"], format="lines",
                   from_path={"raw_label": r"(hate|none)_\w+\.txt$", "target": r"_(\w+)\.txt$"},
                   columns={"label": "raw_label"}, labels=LABELS)
    assert list(evalset.items[ID]) == ["hate_women:1", "hate_women:3", "hate_women:5", "none_women:1",
                                       "hate_migrants:1"]
    assert list(evalset.items[TEXT]) == ["first post", '"quoted start', "last post", "a kind word", "coded message"]
    assert list(evalset.items[GOLD]) == ["HS", "HS", "HS", "benign", "HS"]
    assert evalset.slices == ["target"]
    assert list(evalset.items["target"]) == ["women"] * 4 + ["migrants"]
    assert evalset.name == "gen"


def test_lines_files_sharing_a_stem_keep_their_folder_in_the_id(tmp_path: Path) -> None:
    write(tmp_path / "de" / "test.txt", "hallo\n")
    write(tmp_path / "en" / "test.txt", "hello\n")
    evalset = load(tmp_path, path="*/test.txt", format="lines", from_path={"language": r"^(\w+)/"},
                   columns={"label": "language"}, labels={"de": "benign", "en": "benign"})
    assert list(evalset.items[ID]) == ["de/test:1", "en/test:1"]


def test_from_path_on_a_delimited_file(tmp_path: Path) -> None:
    write(tmp_path / "de" / "test.tsv", "text\tlabel\nhallo\tnone\n")
    write(tmp_path / "fr" / "test.tsv", "text\tlabel\nbonjour\thate\n")
    evalset = load(tmp_path, path=[str(tmp_path / "de" / "test.tsv"), str(tmp_path / "fr" / "test.tsv")],
                   from_path={"language": r"/(\w\w)/test\.tsv$"}, labels=LABELS)
    assert list(evalset.items["language"]) == ["de", "fr"] and evalset.slices == ["language"]


def test_glob_that_matches_nothing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    message = error(tmp_path, path="data/**/*.txt", format="lines")
    assert "matches no files" in message and "data/**/*.txt" in message


# --- raw annotations, wide -------------------------------------------------------------------

WIDE = ("id,text,a1,a2,a3\n"
        "i1,unanimous hate,hate,hate,hate\n"
        "i2,two to one,hate,hate,none\n"
        "i3,one to two,hate,none,none\n"
        "i4,tie with a blank,hate,,none\n"
        "i5,all benign,none,none,none\n")


@pytest.mark.parametrize(("rule", "tie", "gold"), [
    ("majority", "violating", ["HS", "HS", "benign", "HS", "benign"]),
    ("majority", "benign", ["HS", "HS", "benign", "benign", "benign"]),
    ("majority", "unknown", ["HS", "HS", "benign", "unknown", "benign"]),
    ("any", None, ["HS", "HS", "HS", "HS", "benign"]),
    ("all", None, ["HS", "benign", "benign", "benign", "benign"]),
])
def test_gold_from_annotator_columns(tmp_path: Path, rule: str, tie: str | None, gold: list[str]) -> None:
    path = write(tmp_path / "wide.csv", WIDE)
    extra = {"tie": tie} if tie else {}
    evalset = load(tmp_path, path=str(path), columns={"id": "id", "annotators": ["a1", "a2", "a3"]},
                   labels=LABELS, gold_rule=rule, **extra)
    assert list(evalset.items[GOLD]) == gold
    assert list(evalset.items[CONTESTED]) == [False, True, True, True, False]
    assert evalset.annotations is not None
    assert len(evalset.annotations.table) == 14  # one blank cell is no judgement


def test_item_with_no_annotation_is_refused_with_its_row(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv", WIDE + "i6,nobody judged me,,,\n")
    message = error(tmp_path, path=str(path), columns={"id": "id", "annotators": ["a1", "a2", "a3"]}, labels=LABELS)
    assert "'i6'" in message and "row 6" in message and "no annotation" in message


def test_annotator_label_outside_the_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv", WIDE.replace("i5,all benign,none", "i5,all benign,spam"))
    message = error(tmp_path, path=str(path), columns={"annotators": ["a1", "a2", "a3"]}, labels=LABELS)
    assert "'spam'" in message and "eval_set.labels" in message


def test_sampling_keeps_the_annotations_of_the_sampled_items(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv", WIDE)
    evalset = load(tmp_path, path=str(path), columns={"id": "id", "annotators": ["a1", "a2", "a3"]}, labels=LABELS)
    sampled = evalset.sample(2, seed=1)
    assert evalset.annotations is not None and sampled.annotations is not None
    assert set(sampled.annotations.table["item_id"]) == set(sampled.items[ID])


# --- raw annotations, long -------------------------------------------------------------------

def long_files(tmp_path: Path, judgements: str) -> dict[str, Any]:
    items = write(tmp_path / "items.csv", "id,text\nx1,first\nx2,second\nx3,third\n")
    ann = write(tmp_path / "judgements.csv", "item,who,verdict\n" + judgements)
    return {"path": str(items), "columns": {"id": "id"}, "labels": LABELS,
            "annotations": {"path": str(ann), "item": "item", "annotator": "who", "label": "verdict"}}


def test_gold_from_a_long_annotation_file(tmp_path: Path) -> None:
    config = long_files(tmp_path, "x1,ann,hate\nx1,bob,hate\nx2,ann,none\nx2,bob,hate\nx2,cy,none\n"
                                  "x3,cy,hate\nx3,bob,none\n")
    evalset = load(tmp_path, **config)
    assert list(evalset.items[GOLD]) == ["HS", "benign", "HS"]  # x3 is a tie: violating by default
    assert list(evalset.items[CONTESTED]) == [False, True, True]
    assert sorted(evalset.annotations.table["annotator"].unique()) == ["ann", "bob", "cy"]


def test_long_annotations_of_items_not_in_the_set(tmp_path: Path) -> None:
    message = error(tmp_path, **long_files(tmp_path, "x1,ann,hate\nx2,ann,none\nx3,ann,none\nx9,ann,hate\n"))
    assert "'x9'" in message and "row 4" in message and "judgements.csv" in message


def test_long_annotations_missing_an_item(tmp_path: Path) -> None:
    message = error(tmp_path, **long_files(tmp_path, "x1,ann,hate\nx3,ann,none\n"))
    assert "'x2'" in message and "row 2" in message and "no annotation" in message


def test_long_annotations_with_a_judgement_given_twice(tmp_path: Path) -> None:
    message = error(tmp_path, **long_files(tmp_path, "x1,ann,hate\nx2,ann,none\nx3,ann,none\nx1,ann,none\n"))
    assert "'ann'" in message and "'x1'" in message and "rows 1 and 4" in message


# --- validate catches each mistake in one line -----------------------------------------------

def validate(tmp_path: Path, eval_set: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    experiment = {"name": "forms", "policy": str(POLICY), "eval_set": eval_set,
                  "reviewers": [{"name": "c", "type": "classifier"}]}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "harness", "validate", "x.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def validate_error(tmp_path: Path, eval_set: dict[str, Any], *needles: str) -> None:
    result = validate(tmp_path, eval_set)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_validate_accepts_every_form(tmp_path: Path) -> None:
    write(tmp_path / "gen" / "hate_women.txt", "one\ntwo\n")
    write(tmp_path / "gen" / "none_women.txt", "three\n")
    result = validate(tmp_path, {"path": "gen/*.txt", "format": "lines", "labels": LABELS,
                                 "from_path": {"raw": r"(hate|none)_"}, "columns": {"label": "raw"}})
    assert result.returncode == 0, result.stderr
    assert "(3 items)" in result.stdout


def test_validate_catches_each_mistake(tmp_path: Path) -> None:
    write(tmp_path / "gen" / "hate_women.txt", "one\ntwo\n")
    write(tmp_path / "wide.csv", WIDE)
    validate_error(tmp_path, {"path": "gen/*.txt", "format": "lines", "from_path": {"raw": "hate_.*"},
                              "columns": {"label": "raw"}}, "x.yaml", "has no group")
    validate_error(tmp_path, {"path": "nowhere/*.txt", "format": "lines"}, "nowhere/*.txt", "matches no files")
    validate_error(tmp_path, {"path": "gen/*.txt", "format": "lines", "from_path": {"raw": "(none)_"},
                              "columns": {"label": "raw"}}, "gen/hate_women.txt", "does not match")
    validate_error(tmp_path, {"path": "wide.csv", "labels": LABELS, "columns": {"annotators": ["a1", "a4"]}},
                   "wide.csv", "annotator column 'a4'")
    write(tmp_path / "judged.csv", "item_id,annotator,label\n0,a,hate\n1,a,none\n2,a,none\n3,a,none\n4,a,none\n"
                                   "77,a,hate\n")
    validate_error(tmp_path, {"path": "wide.csv", "labels": LABELS, "columns": {"text": "text"},
                              "annotations": {"path": "judged.csv"}}, "judged.csv", "'77'", "not an item")
    validate_error(tmp_path, {"path": "wide.csv", "labels": LABELS, "gold_rule": "any"}, "x.yaml", "gold_rule")
    validate_error(tmp_path, {"path": "wide.csv", "header": False}, "x.yaml", "needs 'names'")

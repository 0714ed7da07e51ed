"""Eval sets: every format loads into one canonical table; every bad file is one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from harness.config import EvalSetConfig
from harness.errors import HarnessError
from harness.evalset import GOLD, ID, TEXT, WEIGHT, load_evalset

ROWS = [("a1", "I love my neighbours", "benign"), ("a2", "those people are vermin", "HS"),
        ("a3", "what a lovely day", "benign")]


def load(path: Path, **config: Any):
    return load_evalset(EvalSetConfig(path=str(path), **config))


def error(path: Path, **config: Any) -> str:
    with pytest.raises(HarnessError) as info:
        load(path, **config)
    message = str(info.value)
    assert path.name in message, f"error does not name the file: {message}"
    assert "\n" not in message
    return message


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(sep: str = ",") -> str:
    return "\n".join([sep.join(["id", "text", "label"]), *(sep.join(r) for r in ROWS)]) + "\n"


def assert_rows(evalset) -> None:
    assert list(evalset.items[ID]) == ["a1", "a2", "a3"]
    assert list(evalset.items[TEXT]) == [r[1] for r in ROWS]
    assert list(evalset.items[GOLD]) == ["benign", "HS", "benign"]
    assert evalset.label_counts == {"benign": 2, "HS": 1}


# --- formats -------------------------------------------------------------------------------

def test_csv(tmp_path: Path) -> None:
    evalset = load(write_text(tmp_path / "set.csv", csv_text()), columns={"id": "id"})
    assert_rows(evalset)
    assert evalset.name == "set" and not evalset.has_weights


def test_tsv(tmp_path: Path) -> None:
    assert_rows(load(write_text(tmp_path / "set.tsv", csv_text("\t")), columns={"id": "id"}))


def test_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps({"id": i, "text": t, "label": g}) for i, t, g in ROWS]
    assert_rows(load(write_text(tmp_path / "set.jsonl", "\n".join(lines) + "\n"), columns={"id": "id"}))


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "set.parquet"
    pd.DataFrame(ROWS, columns=["id", "text", "label"]).to_parquet(path)
    assert_rows(load(path, columns={"id": "id"}))


def test_explicit_format_overrides_suffix(tmp_path: Path) -> None:
    assert_rows(load(write_text(tmp_path / "set.txt", csv_text("\t")), format="tsv", columns={"id": "id"}))


def test_unknown_suffix_asks_for_format(tmp_path: Path) -> None:
    assert "eval_set.format" in error(write_text(tmp_path / "set.txt", csv_text()))


def test_csv_with_bom_keeps_first_column_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    assert_rows(load(path, columns={"id": "id"}))


def test_jsonl_with_bom_keeps_first_field_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    lines = [json.dumps({"id": i, "text": t, "label": g}) for i, t, g in ROWS]
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8"))
    assert_rows(load(path, columns={"id": "id"}))


def test_any_language_and_markup_is_kept_verbatim(tmp_path: Path) -> None:
    texts = ["Ik haat niemand", "مرحبا بالجميع", "<script>alert(1)</script>", "emoji 🐀🐀 here, \"quoted\""]
    frame = pd.DataFrame({"text": texts, "label": ["benign", "benign", "benign", "HS"]})
    path = tmp_path / "multi.csv"
    frame.to_csv(path, index=False)
    assert list(load(path).items[TEXT]) == texts


# --- byte-level and structural problems ----------------------------------------------------

def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_text().encode("utf-8") + "a4,caf\xe9 au lait,benign\n".encode("latin-1"))
    message = error(path, columns={"id": "id"})
    assert "line 5" in message and "UTF-8" in message


def test_broken_jsonl_line_names_the_line(tmp_path: Path) -> None:
    lines = [json.dumps({"text": t, "label": g}) for _, t, g in ROWS]
    lines.insert(2, '{"text": "unterminated", "label"')
    message = error(write_text(tmp_path / "broken.jsonl", "\n".join(lines) + "\n"))
    assert "line 3" in message and "JSON" in message


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"text": "a", "label": "benign"}\n["text", "b"]\n')
    assert "line 2" in error(path)


def test_ragged_csv(tmp_path: Path) -> None:
    text = csv_text() + "a4,too,many,fields\n"
    message = error(write_text(tmp_path / "ragged.csv", text), columns={"id": "id"})
    assert "line 5" in message


def test_tsv_read_as_csv_points_at_the_delimiter(tmp_path: Path) -> None:
    message = error(write_text(tmp_path / "tabs.csv", csv_text("\t")), columns={"id": "id"})
    assert "tab-separated" in message and "tsv" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in error(write_text(tmp_path / "empty.csv", ""))


@pytest.mark.parametrize("name", ["header.csv", "header.tsv"])
def test_header_only_file_is_an_error(tmp_path: Path, name: str) -> None:
    error(write_text(tmp_path / name, "text,label\n" if name.endswith("csv") else "text\tlabel\n"))


def test_header_only_file_says_there_are_no_rows(tmp_path: Path) -> None:
    message = error(write_text(tmp_path / "header.csv", "text,label\n"))
    assert "no items" in message or "no rows" in message


# --- content validation --------------------------------------------------------------------

def test_duplicate_ids(tmp_path: Path) -> None:
    text = csv_text() + "a2,another text,benign\n"
    message = error(write_text(tmp_path / "dupes.csv", text), columns={"id": "id"})
    assert "'a2'" in message and "more than once" in message


def test_missing_column_lists_the_real_columns(tmp_path: Path) -> None:
    message = error(write_text(tmp_path / "cols.csv", csv_text()), columns={"text": "tweet"})
    assert "'tweet'" in message
    assert "id, text, label" in message  # the hint: what columns the file does have
    assert "eval_set.columns" in message


def test_missing_slice_column(tmp_path: Path) -> None:
    message = error(write_text(tmp_path / "cols.csv", csv_text()), columns={"slices": ["functionality"]})
    assert "'functionality'" in message


@pytest.mark.parametrize("blank", ["", "   ", "\t "])
def test_empty_or_whitespace_text(tmp_path: Path, blank: str) -> None:
    text = csv_text() + f'a4,"{blank}",benign\n'
    message = error(write_text(tmp_path / "blank.csv", text), columns={"id": "id"})
    assert "'a4'" in message and "row 4" in message and "empty text" in message


def test_label_not_in_mapping(tmp_path: Path) -> None:
    text = csv_text() + "a4,something,harassment\n"
    message = error(write_text(tmp_path / "labels.csv", text), labels={"benign": "benign", "HS": "HS"})
    assert "'harassment'" in message and "eval_set.labels" in message


def test_a_case_variant_label_names_its_rows_and_the_label_meant(tmp_path: Path) -> None:
    """'Violating' for 'violating' is a typo in the data: the message points at the rows and the fix."""
    rows = "".join(f"v{i},text {i},Violating\n" for i in range(5))
    text = "id,text,label\nb1,fine,benign\nv9,bad,violating\n" + rows
    message = error(write_text(tmp_path / "case.csv", text), columns={"id": "id"},
                    labels={"violating": "HS", "benign": "benign"})
    assert "'Violating' in rows 3, 4, 5 and 2 more (ids 'v0', 'v1', 'v2')" in message
    assert "Did you mean 'violating'?" in message
    assert message.index("Fix the data") < message.index("add 'Violating' to eval_set.labels")


def test_missing_label(tmp_path: Path) -> None:
    message = error(write_text(tmp_path / "nolabel.csv", csv_text() + "a4,something,\n"), columns={"id": "id"})
    assert "'a4'" in message and "no label" in message


@pytest.mark.parametrize(("value", "shown"), [("-2", "-2"), ("abc", "abc"), ("inf", "inf")])
def test_bad_weights(tmp_path: Path, value: str, shown: str) -> None:
    text = "text,label,w\nfine,benign,1.5\nbad,HS," + value + "\n"
    message = error(write_text(tmp_path / "weights.csv", text), columns={"weight": "w"})
    assert "row 2" in message and shown in message and "weight" in message


def test_bad_weight_is_shown_as_the_user_wrote_it(tmp_path: Path) -> None:
    text = "text,label,w\nfine,benign,1\nbad,HS,-2\n"
    message = error(write_text(tmp_path / "weights.csv", text), columns={"weight": "w"})
    assert "np." not in message


def test_weights_are_loaded(tmp_path: Path) -> None:
    text = "text,label,w\nfine,benign,0.5\nbad,HS,3\n"
    evalset = load(write_text(tmp_path / "weights.csv", text), columns={"weight": "w"})
    assert list(evalset.items[WEIGHT]) == [0.5, 3.0] and evalset.has_weights


def test_integer_labels_mapped_with_yaml_int_keys(tmp_path: Path) -> None:
    labels = yaml.safe_load("{0: HS, 1: benign, 2: benign}")
    assert 0 in labels  # YAML really gives int keys
    path = write_text(tmp_path / "ints.csv", "tweet,class\nhate,0\noffensive,1\nneither,2\nmore hate,0\n")
    evalset = load(path, columns={"text": "tweet", "label": "class"}, labels=labels)
    assert list(evalset.items[GOLD]) == ["HS", "benign", "benign", "HS"]


def test_integer_labels_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "ints.parquet"
    pd.DataFrame({"text": ["a", "b", "c"], "label": [1, 0, 1]}).to_parquet(path)
    evalset = load(path, labels={0: "benign", 1: "HS"})
    assert list(evalset.items[GOLD]) == ["HS", "benign", "HS"]


def test_ids_default_to_row_numbers(tmp_path: Path) -> None:
    evalset = load(write_text(tmp_path / "noid.csv", csv_text()))
    assert list(evalset.items[ID]) == ["0", "1", "2"]


def test_check_labels_against_policy(tmp_path: Path) -> None:
    evalset = load(write_text(tmp_path / "set.csv", csv_text()))
    evalset.check_labels(["HS"], policy_path="v1.md")
    with pytest.raises(HarnessError, match="'HS'.*not a category"):
        evalset.check_labels(["HR"], policy_path="v1.md")


# --- sampling and hashing ------------------------------------------------------------------

def skewed(tmp_path: Path):
    rows = [(f"benign text {i}", "benign") for i in range(90)] + [(f"hateful text {i}", "HS") for i in range(8)] \
        + [("harassing text a", "HR"), ("harassing text b", "HR")]
    path = tmp_path / "skewed.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    return load(path)


def test_stratified_sample_is_deterministic_and_keeps_every_label(tmp_path: Path) -> None:
    evalset = skewed(tmp_path)
    first, again, other = evalset.sample(20, seed=7), evalset.sample(20, seed=7), evalset.sample(20, seed=8)
    assert len(first) == 20
    assert list(first.items[ID]) == list(again.items[ID])
    assert first.sha256 == again.sha256
    assert list(first.items[ID]) != list(other.items[ID])
    assert set(first.items[GOLD]) == {"benign", "HS", "HR"}  # HR is 2% of the set but still sampled
    assert first.label_counts["benign"] >= 15  # proportions roughly kept
    assert first.items[ID].is_unique


def test_sample_larger_than_set_returns_everything(tmp_path: Path) -> None:
    evalset = skewed(tmp_path)
    assert len(evalset.sample(1000, seed=0)) == 100


@pytest.mark.parametrize("n", [3, 5, 50, 99])
def test_sample_returns_exactly_n(tmp_path: Path, n: int) -> None:
    sample = skewed(tmp_path).sample(n, seed=1)
    assert len(sample) == n and set(sample.items[GOLD]) == {"benign", "HS", "HR"}


def test_hash_changes_when_one_text_changes(tmp_path: Path) -> None:
    base = load(write_text(tmp_path / "a.csv", csv_text()))
    same = load(write_text(tmp_path / "b.csv", csv_text()))
    edited = load(write_text(tmp_path / "c.csv", csv_text().replace("lovely day", "lovely day!")))
    relabelled = load(write_text(tmp_path / "d.csv", csv_text().replace("day,benign", "day,HS")))
    assert base.sha256 == same.sha256
    assert len({base.sha256, edited.sha256, relabelled.sha256}) == 3


def test_missing_file(tmp_path: Path) -> None:
    assert "not found" in error(tmp_path / "absent.csv")


# --- the real shared data sets ------------------------------------------------------------

def test_hatecheck_loads_from_config_alone(shared_data: Path) -> None:
    evalset = load_evalset(EvalSetConfig(
        path=str(shared_data / "hatecheck" / "test_suite_cases.csv"),
        columns={"id": "case_id", "text": "test_case", "label": "label_gold", "slices": ["functionality"]},
        labels={"hateful": "HS", "non-hateful": "benign"}))
    assert len(evalset) == 3728
    assert evalset.label_counts == {"HS": 2563, "benign": 1165}
    assert evalset.slices == ["functionality"]
    functionality = set(evalset.items["functionality"])
    assert len(functionality) == 29 and {"counter_quote_nh", "negate_neg_nh"} <= functionality
    assert evalset.items[ID].is_unique


def test_davidson_class_codes_mapped(shared_data: Path) -> None:
    config = yaml.safe_load("""
        path: davidson_hate_offensive/labeled_data.csv
        columns: {text: tweet, label: class}
        labels: {0: HS, 1: benign, 2: benign}
    """)
    config["path"] = str(shared_data / config["path"])
    evalset = load_evalset(EvalSetConfig(**config))
    raw = pd.read_csv(shared_data / "davidson_hate_offensive" / "labeled_data.csv")
    assert len(evalset) == len(raw) == 24783
    assert evalset.label_counts == {"HS": int((raw["class"] == 0).sum()), "benign": int((raw["class"] != 0).sum())}
    assert list(evalset.items[GOLD][:3]) == ["benign" if c else "HS" for c in raw["class"][:3]]


def test_multilingual_hatecheck_two_files_as_one_set(shared_data: Path) -> None:
    folder = shared_data / "multilingual_hatecheck"
    files = [folder / "hatecheck_cases_final_dutch.csv", folder / "hatecheck_cases_final_german.csv"]
    evalset = load_evalset(EvalSetConfig(
        path=[str(f) for f in files], from_path={"language": r"([^/]+)\.csv$"},
        columns={"id": "mhc_case_id", "text": "test_case", "label": "label_gold",
                 "slices": ["functionality"], "contested": "disagreement_in_case"},
        labels={"hateful": "HS", "non-hateful": "benign"}))
    sizes = [len(pd.read_csv(f)) for f in files]
    assert len(evalset) == sum(sizes)
    assert evalset.slices == ["functionality", "language"]
    assert evalset.items["language"].value_counts().to_dict() == {
        "hatecheck_cases_final_dutch": sizes[0], "hatecheck_cases_final_german": sizes[1]}
    assert 0 < int(evalset.items["contested"].sum()) < len(evalset)

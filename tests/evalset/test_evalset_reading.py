"""Local eval-set files are read by pandas and pyarrow directly: no `datasets` import, no hidden copy of the
data in the Hugging Face cache, and the shapes `datasets` used to accept (a JSON array) or garble (a
trailing comma, a saved pandas index) read as the user meant or fail with one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.config import EvalSetConfig
from harness.errors import HarnessError
from harness.evalset import GOLD, ID, TEXT, load_evalset, read_table

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = [{"id": "a1", "text": "I love my neighbours", "label": "benign"},
        {"id": "a2", "text": "those people are vermin", "label": "HS"}]


def load(path: Path, **config: Any):
    return load_evalset(EvalSetConfig(path=str(path), **config))


def error(path: Path) -> str:
    with pytest.raises(HarnessError) as info:
        load(path, columns={"id": "id"})
    message = str(info.value)
    assert path.name in message and "\n" not in message
    return message


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def assert_rows(evalset) -> None:
    assert list(evalset.items[ID]) == ["a1", "a2"]
    assert list(evalset.items[TEXT]) == [r["text"] for r in ROWS]
    assert list(evalset.items[GOLD]) == ["benign", "HS"]


def test_local_files_leave_the_hugging_face_cache_empty_and_datasets_unimported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hf-datasets"
    cache.mkdir()
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    pd.DataFrame(ROWS).to_csv(tmp_path / "set.csv", index=False)
    write(tmp_path / "set.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))
    pd.DataFrame(ROWS).to_parquet(tmp_path / "set.parquet")
    script = "\n".join([
        "import sys",
        "from pathlib import Path",
        "from harness.config import EvalSetConfig",
        "from harness.evalset import load_evalset",
        "for name in ('set.csv', 'set.jsonl', 'set.parquet'):",
        f"    evalset = load_evalset(EvalSetConfig(path=name, columns={{'id': 'id'}}), base_dir=Path({str(tmp_path)!r}))",
        "    assert len(evalset) == 2, name",
        "print('datasets' in sys.modules)"])
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert list(cache.iterdir()) == []


def test_trailing_comma_on_every_row_keeps_the_columns_in_place(tmp_path: Path) -> None:
    # pandas' default would make the first column the index and shift every value one column left.
    text = "id,text,label\n" + "".join(f"{r['id']},{r['text']},{r['label']},\n" for r in ROWS)
    assert_rows(load(write(tmp_path / "trailing.csv", text), columns={"id": "id"}))


def test_first_row_longer_than_the_header_is_an_error(tmp_path: Path) -> None:
    message = error(write(tmp_path / "long.csv", "id,text,label\na1,hello,benign,extra\na2,bye,HS\n"))
    assert "first row has more fields than the header" in message


def test_missing_cells_and_text_that_looks_missing(tmp_path: Path) -> None:
    text = "id,text,label,lang\na1,NA,benign,\na2,null,HS,en\n"
    evalset = load(write(tmp_path / "na.csv", text), columns={"id": "id", "slices": ["lang"]})
    assert list(evalset.items[TEXT]) == ["NA", "null"]  # words in a post, not missing values
    assert list(evalset.items["lang"]) == ["(missing)", "en"]


def test_json_array_of_records(tmp_path: Path) -> None:
    assert_rows(load(write(tmp_path / "set.json", json.dumps(ROWS, indent=2)), columns={"id": "id"}))


def test_json_array_of_strings_is_a_text_column(tmp_path: Path) -> None:
    table = read_table(str(write(tmp_path / "texts.json", '["one", "two"]')))
    assert list(table.columns) == ["text"] and list(table["text"]) == ["one", "two"]


@pytest.mark.parametrize(("body", "expected"), [
    ('[{"text": "a", "label": "benign"}, 3]', "item 2 of the JSON array is not an object"),
    ("[]", "no items (no rows)"),
    ('[{"text": "a",\n "label": }]', "line 2 is not valid JSON"),
])
def test_bad_json_array(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in error(write(tmp_path / "bad.json", body))


def test_jsonl_whose_field_changes_type_between_rows(tmp_path: Path) -> None:
    lines = ['{"id": 1, "text": "first", "label": "benign"}', '{"id": "x2", "text": "second", "label": "HS"}']
    evalset = load(write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n"), columns={"id": "id"})
    assert list(evalset.items[ID]) == ["1", "x2"] and list(evalset.items[GOLD]) == ["benign", "HS"]


def test_jsonl_lone_surrogate_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "surrogate.jsonl", '{"id": "a1", "text": "ok", "label": "benign"}\n'
                                               '{"id": "a2", "text": "bad \\ud800", "label": "HS"}\n')
    assert "line 2" in error(path) and "surrogate" in error(path)


def test_parquet_with_a_saved_index(tmp_path: Path) -> None:
    named = tmp_path / "named.parquet"
    pd.DataFrame(ROWS).set_index("id").to_parquet(named)  # a named index is the id column the user saved
    assert_rows(load(named, columns={"id": "id"}))
    unnamed = tmp_path / "unnamed.parquet"
    pd.DataFrame(ROWS, index=[7, 9]).to_parquet(unnamed)  # an unnamed index is no column at all
    assert list(load_evalset(EvalSetConfig(path=str(unnamed))).items[ID]) == ["0", "1"]


def test_parquet_that_is_not_parquet(tmp_path: Path) -> None:
    message = error(write(tmp_path / "set.parquet", "id,text,label\na1,hello,benign\n"))
    assert "could not be read as PARQUET" in message and "magic bytes" in message
    assert message.count("set.parquet") == 1


def test_parquet_with_a_corrupt_page(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    pd.DataFrame(ROWS * 500).to_parquet(path)
    data = bytearray(path.read_bytes())
    data[100:150] = bytes(50)  # inside the first column's pages: pyarrow raises OSError, not ArrowInvalid
    path.write_bytes(bytes(data))
    assert "could not be read as PARQUET" in error(path)


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pd.DataFrame(ROWS).iloc[:0].to_parquet(path)
    assert "no items (no rows)" in error(path)

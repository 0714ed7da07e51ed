"""Reading a quiz's answer key and a cohort's answers (long or wide), or a stored run's verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.errors import HarnessError
from harness.evalset import read_table
from harness.labels import BENIGN, label_key
from harness.record import read_record
from harness.record.proficiency import QUIZ_JSON, QuizInfo
from harness.training.vocabulary import Vocabulary, unknown_answers, vocabulary
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

KEY_COLUMNS = ("id", "gold", "categories", "rule_ids")
ANSWER_COLUMNS = ("reviewer", "id", "decision")


def read_key(path: str | Path) -> tuple[QuizInfo, pd.DataFrame]:
    """The answer key and the quiz.json beside it (it names the policy id and version graded)."""
    path = Path(path)
    info_path = path.parent / QUIZ_JSON
    if not info_path.is_file():
        raise HarnessError(f"has no {QUIZ_JSON} beside it; give the answer_key.csv of a folder written by "
                           "'policy-harness quiz'.", path=path)
    try:
        info = QuizInfo.model_validate_json(info_path.read_text(encoding="utf-8"))
    except ValidationError as err:
        raise HarnessError(f"is not a quiz description ({err.errors()[0]['msg']}); write the quiz again with "
                           "'policy-harness quiz'.", path=info_path) from None
    key = read_table(str(path))
    missing = [c for c in KEY_COLUMNS if c not in key.columns]
    if missing:
        raise HarnessError(f"has no column '{missing[0]}'; give the answer_key.csv written by 'policy-harness quiz'.",
                           path=path)
    key = key.astype(object).where(key.notna(), "")
    for column in key.columns:
        key[column] = key[column].map(lambda v: label_key(v) or "")
    if key["id"].duplicated().any():
        raise HarnessError(f"id '{key['id'][key['id'].duplicated()].iloc[0]}' appears twice; an answer key lists "
                           "every item once.", path=path)
    return info, key.reset_index(drop=True)


def read_answers(path: str | Path, *, wide: bool = False) -> pd.DataFrame:
    """An answers file as raw long rows `reviewer, id, decision, row` (wide: one column per reviewer),
    `row` being the file's line number of the answer (the header is line 1), named in errors."""
    table = read_table(str(path))
    lines = np.arange(2, len(table) + 2)
    if wide:
        if "id" not in table.columns or len(table.columns) < 2:
            raise HarnessError("a wide answers file needs an 'id' column and one column per reviewer; fix the "
                               "header or drop --wide.", path=path)
        # melt stacks the reviewer columns one after another, each in the file's row order.
        table = table.melt(id_vars=["id"], var_name="reviewer", value_name="decision")
        lines = np.tile(lines, len(table) // max(len(lines), 1))
    else:
        missing = [c for c in ANSWER_COLUMNS if c not in table.columns]
        if missing:
            raise HarnessError(f"has no column '{missing[0]}' (columns: {', '.join(map(str, table.columns[:10]))}); "
                               "give reviewer,id,decision columns, or pass --wide for one column per reviewer.",
                               path=path)
    return table[list(ANSWER_COLUMNS)].assign(row=lines).reset_index(drop=True)


def quiz_vocabulary(info: QuizInfo, key: pd.DataFrame, labels: Mapping[str, str] | None = None, *,
                    quiz_path: str | Path | None = None) -> Vocabulary:
    """The answer words a grading accepts: built-in ones, the policy's categories and the key's gold
    labels, the quiz's `labels` mapping (`quiz_path`, named in errors), then `labels` (--labels)."""
    categories = [*info.categories, *key["gold"].astype(str)]
    return vocabulary(categories, (info.labels, quiz_path or QUIZ_JSON), (labels or {}, None))


def answer_table(raw: pd.DataFrame, info: QuizInfo, key: pd.DataFrame, *, source: str | Path,
                 vocab: Vocabulary | None = None) -> pd.DataFrame:
    """Raw answers as `reviewer, id, answer, decision`, one row per reviewer x key item (a missing
    or blank answer is a skip, decision `abstained`). An answer word `vocab` (default: the quiz's,
    `quiz_vocabulary`) does not know is an error naming it, never a guess."""
    table = pd.DataFrame({"reviewer": raw["reviewer"].map(lambda v: label_key(v) or ""),
                          "id": raw["id"].map(lambda v: label_key(v) or ""), "answer": raw["decision"]})
    if table.empty:
        raise HarnessError("has no answers; give one row per reviewer and item.", path=source)
    if (table["reviewer"] == "").any():
        row = int((table["reviewer"] == "").to_numpy().nonzero()[0][0])
        raise HarnessError(f"row {row + 2} has no reviewer name; fill it in.", path=source)
    unknown = sorted(set(table["id"]) - set(key["id"]))
    if unknown:
        raise HarnessError(f"id '{unknown[0]}' is not in the answer key ({len(unknown)} unknown ids); grade "
                           "answers against the key of the quiz they answered.", path=source)
    twice = table.duplicated(["reviewer", "id"])
    if twice.any():
        first = table[twice].iloc[0]
        raise HarnessError(f"reviewer '{first['reviewer']}' answered item '{first['id']}' twice; keep one answer "
                           "per reviewer and item.", path=source)
    vocab = vocab or quiz_vocabulary(info, key)
    rows = raw["row"] if "row" in raw else pd.Series([None] * len(raw))
    places = [f"{f'row {row}, ' if row is not None else ''}reviewer '{who}', item '{item}'"
              for row, who, item in zip(rows, table["reviewer"], table["id"], strict=True)]
    unknown_answers(list(table["answer"]), places, vocab, source=source)
    table["decision"] = table["answer"].map(vocab.decide)
    full = pd.MultiIndex.from_product([sorted(table["reviewer"].unique()), key["id"]], names=["reviewer", "id"])
    out = table.set_index(["reviewer", "id"]).reindex(full).reset_index()
    out["decision"] = out["decision"].fillna(ABSTAINED)
    out["answer"] = out["answer"].map(lambda v: label_key(v) or "")
    return out


def answers_from_run(run_dir: str | Path, key: pd.DataFrame) -> pd.DataFrame:
    """A stored run's candidate-policy verdicts on the quiz items, as long answers (abstained = skipped):
    an LLM or classifier reviewer is graded as one more member of the cohort."""
    record = read_record(run_dir)
    verdicts = record.verdicts
    verdicts = verdicts[(verdicts["policy"] == record.candidate) & (verdicts["sample"] == 0)
                        & verdicts["item_id"].astype(str).isin(set(key["id"]))]
    if verdicts.empty:
        raise HarnessError("has no verdicts on the quiz's items; grade a run made on the quiz's eval set.",
                           path=run_dir)
    words = {ACTIONED: "violating", ALLOWED: BENIGN, ABSTAINED: ""}
    return pd.DataFrame({"reviewer": verdicts["reviewer"].astype(str), "id": verdicts["item_id"].astype(str),
                         "decision": verdicts["decision"].map(words).fillna("")}).reset_index(drop=True)

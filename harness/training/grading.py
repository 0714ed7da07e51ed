"""Grade answer files against a quiz's key and write proficiency.json, grades.csv, graded.csv, report.html."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.labels import BENIGN
from harness.record import atomic_write_text
from harness.record.proficiency import (
    GRADED_CSV,
    GRADES_CSV,
    PROFICIENCY_JSON,
    QUESTIONS,
    QUIZ_JSON,
    REPORT_HTML,
    Proficiency,
)
from harness.training.answers import answer_table, answers_from_run, quiz_vocabulary, read_answers, read_key
from harness.training.proficiency import DEFAULT_MAX_SKIP, DEFAULT_PASS, grade
from harness.training.vocabulary import vocabulary
from harness.verdicts import ABSTAINED, ACTIONED


def grade_files(answers: str | Path | None, key_path: str | Path, out_dir: str | Path, *, wide: bool = False,
                from_runs: list[str | Path] | None = None, pass_mark: float = DEFAULT_PASS,
                max_skip: float = DEFAULT_MAX_SKIP, track: bool = True,
                labels: Mapping[str, str] | None = None) -> Proficiency:
    """Grade the answers file and/or the verdicts of stored runs (each run reviewer is one more
    member of the cohort) against `key_path`; write the outputs to `out_dir` and log to MLflow.
    `labels` maps a team's answer words to benign / violating / skip, over the quiz's own `labels`;
    an answer word neither knows is an error (nothing is written)."""
    if not 0.0 < pass_mark < 1.0:
        raise HarnessError(f"--pass must be a share strictly between 0 and 1, e.g. 0.9. Got {pass_mark:g} instead.")
    if not 0.0 <= max_skip <= 1.0:
        raise HarnessError(f"--max-skip must be a share between 0 and 1. Got {max_skip:g} instead.")
    if answers is None and not from_runs:
        raise HarnessError("give an answers file, or --from-run RUN_DIR to grade a run's reviewers.")
    info, key = read_key(key_path)
    vocab = quiz_vocabulary(info, key, labels, quiz_path=Path(key_path).parent / QUIZ_JSON)
    tables = []
    if answers is not None:
        tables.append(answer_table(read_answers(answers, wide=wide), info, key, source=answers, vocab=vocab))
    for run in from_runs or []:
        # A run's verdicts are written in the built-in words: a team's mapping does not apply to them.
        table = answer_table(answers_from_run(run, key), info, key, source=run, vocab=vocabulary(()))
        clash = sorted(set(table["reviewer"]) & {r for t in tables for r in t["reviewer"]})
        if clash:
            raise HarnessError(f"reviewer '{clash[0]}' is also in the answers already read; rename one of them.",
                               path=run)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    texts = _texts(Path(key_path).parent / QUESTIONS)
    data = grade(info, key, table, pass_mark=pass_mark, max_skip=max_skip, texts=texts,
                 answers_path=str(answers or ""), key_path=str(key_path))
    write_proficiency(data, graded_items(table, key), Path(out_dir))
    if track:
        from harness.tracking.proficiency import log_grading

        data.mlflow_run_id = log_grading(data, Path(out_dir))
        if data.mlflow_run_id:
            atomic_write_text(Path(out_dir) / PROFICIENCY_JSON, data.model_dump_json(indent=2) + "\n")
    return data


def graded_items(table: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """graded.csv's rows: each reviewer x item answer with the key's columns and `correct`
    (True / False for an answered item, blank for a skip)."""
    graded = table.merge(key, on="id", how="left")
    right = (graded["decision"] == ACTIONED) == (graded["gold"] != BENIGN)
    correct = right.astype(object).where(graded["decision"] != ABSTAINED, None)
    graded.insert(list(graded.columns).index("decision") + 1, "correct", correct)
    return graded


def write_proficiency(data: Proficiency, graded: pd.DataFrame, out: Path) -> None:
    from harness.training.report import render_proficiency_html

    out.mkdir(parents=True, exist_ok=True)
    rows = [{"reviewer": g.reviewer, "status": g.certification.status, "more_items": g.certification.more_items,
             "answered": g.answered, "skipped": g.skipped, "skip_flag": g.skip_flag,
             **{f"{name}{suffix}": getattr(getattr(g, name), field)
                for name in ("accuracy", "over_enforcement", "leakage", "false_action_share")
                for suffix, field in (("", "rate"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"),
                                      ("_k", "k"), ("_n", "n"))},
             "weaknesses": "; ".join(f"{w.column}={w.value}" for w in g.weaknesses)} for g in data.reviewers]
    atomic_write_text(out / GRADES_CSV, pd.DataFrame(rows).to_csv(index=False))
    atomic_write_text(out / GRADED_CSV, graded.to_csv(index=False))
    atomic_write_text(out / PROFICIENCY_JSON, data.model_dump_json(indent=2) + "\n")
    atomic_write_text(out / REPORT_HTML, render_proficiency_html(data))


def proficiency_text(data: Proficiency, out: Path) -> str:
    lines = [f"proficiency: {len(data.reviewers)} reviewers on {data.quiz.items} items, "
             f"{data.quiz.policy_id}@v{data.quiz.policy_version}, pass mark {data.pass_mark:.0%}"]
    for g in data.reviewers:
        acc = g.accuracy
        shown = "no answers" if acc.rate is None else f"{acc.rate:.1%} [{acc.ci_low:.1%}, {acc.ci_high:.1%}]"
        more = f" (~{g.certification.more_items} more items)" if g.certification.more_items else ""
        lines.append(f"  {g.reviewer:<16} accuracy {shown}  answered {g.answered} skipped {g.skipped}"
                     f"{' (skipped much)' if g.skip_flag else ''}  {g.certification.status}{more}"
                     + (f"  weak: {', '.join(f'{w.column}={w.value}' for w in g.weaknesses[:4])}" if g.weaknesses else ""))
    c = data.cohort
    alpha = "undefined" if c.krippendorff_alpha is None else f"{c.krippendorff_alpha:.3f}"
    kappa = "undefined" if c.fleiss_kappa is None else f"{c.fleiss_kappa:.3f}"
    lines.append(f"  cohort: certified {c.coverage.k}/{c.coverage.n}, Krippendorff's alpha {alpha}, Fleiss' kappa {kappa}, "
                 f"{sum(h.all_wrong for h in c.hard_items)} items every reviewer got wrong")
    if data.mlflow_run_id:
        lines.append(f"  mlflow run {data.mlflow_run_id}")
    lines.append(f"  outputs: {out / PROFICIENCY_JSON}, {out / GRADES_CSV}, {out / GRADED_CSV}")
    lines.append(f"  report: {out / REPORT_HTML}")
    return "\n".join(lines)


def _texts(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    questions = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"id", "text"} <= set(questions.columns):
        return {}
    return dict(zip(questions["id"], questions["text"], strict=True))

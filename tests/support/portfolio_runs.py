"""Real runs for the portfolio: classifier-only experiments on small synthetic sets, tracked into a
sqlite MLflow store, and one proficiency grading of a simulated cohort."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from harness.config import load_experiment
from harness.pipeline.run import run
from harness.record import RunRecord
from harness.record.proficiency import Proficiency
from harness.testing.cohort import Simulation, simulate_answers, write_eval_set
from harness.training import build_quiz, grade_files, read_key, write_quiz

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'

HATE = """---
id: demo_hate
version: {version}
title: Demo hate policy
categories:
  - id: HS
    name: Hate speech
{extra}---
# Demo hate policy

## Rules
- **HS1** Dehumanising language about a protected group.

## Exceptions
- **HS-E1** Counter-speech that quotes hate to condemn it.
"""

SPAM = """---
id: demo_spam
version: 1
title: Demo spam policy
categories:
  - id: SP
    name: Spam
---
# Demo spam policy

## Rules
- **SP1** Unsolicited advertising with a link.
"""

VIOLATING = {"en": "those {g} are vermin rats filth and must go {i}", "de": "diese {g} sind ungeziefer dreck raus {i}"}
BENIGN = {"en": "lovely {g} market sunny garden picnic today {i}", "de": "schoener {g} markt sonne garten heute {i}"}
SPAMMY = {"en": "buy cheap pills now click link offer {i}", "de": "kaufen billig jetzt klicken angebot {i}"}
GROUPS = ("people", "neighbours", "folks", "visitors")


def _items(counts: dict[str, tuple[int, int, int]], violating: dict[str, str], label: str) -> pd.DataFrame:
    """Per language (violating, of which benign-looking, benign) items; the benign-looking violating
    ones are what the classifier lets through (leakage)."""
    rows = []
    for language, (n_violating, hidden, n_benign) in counts.items():
        for i in range(n_violating):
            template = BENIGN[language] if i < hidden else violating[language]
            rows.append({"text": template.format(g=GROUPS[i % 4], i=i), "label": label, "language": language})
        for i in range(n_benign):
            rows.append({"text": BENIGN[language].format(g=GROUPS[i % 4], i=i), "label": "benign", "language": language})
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", [f"{label}-{i:04d}" for i in range(len(frame))])
    return frame


def _experiment(folder: Path, name: str, policy: str, items: str, gates: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"""\
name: {name}
policy: {policy}
eval_set:
  path: {items}
  name: {name}-items
  columns: {{id: id, text: text, label: label, slices: [language]}}
reviewers:
  - {{name: tfidf-lr, type: classifier, max_features: 500}}
gates:
{gates}
""", encoding="utf-8")
    return path


STRICT = "  over_enforcement: {max: 0.9}\n  leakage: {max: 0.001}\n  leakage@de: {max: 0.99, slice: {language: de}}\n"
LENIENT = "  over_enforcement: {max: 0.9}\n  leakage: {max: 0.9}\n  leakage@de: {max: 0.99, slice: {language: de}}\n"
# Four benign German items: a Wilson interval that straddles 0.45 unless all four are actioned.
SPAM_GATES = "  over_enforcement@de: {max: 0.45, slice: {language: de}}\n"


@dataclasses.dataclass
class Built:
    root: Path
    runs: dict[str, RunRecord]
    grading: Proficiency
    grading_dir: Path
    uri: str


def build_runs(root: Path) -> Built:
    """Four runs (demo_hate v1, v2 twice, demo_spam v1) and a grading under `root`, tracked to its sqlite store."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        src = root / "src"
        src.mkdir()
        (src / "hate_v1.md").write_text(HATE.format(version=1, extra=""), encoding="utf-8")
        (src / "hate_v2.md").write_text(HATE.format(version=2, extra="approved_by: Lead\napproved_at: '2025-01-01'\n"),
                                        encoding="utf-8")
        (src / "spam_v1.md").write_text(SPAM, encoding="utf-8")
        # German leaks half its violating items: a flagged language.
        _items({"en": (60, 5, 60), "de": (20, 10, 20)}, VIOLATING, "HS").to_csv(src / "hate.csv", index=False)
        spam = _items({"en": (24, 0, 24), "de": (4, 0, 4)}, SPAMMY, "SP")
        spam = pd.concat([spam, pd.DataFrame([{"id": "SP-hostile", "text": "sunny garden", "label": "benign",
                                               "language": HOSTILE}])], ignore_index=True)
        spam.to_csv(src / "spam.csv", index=False)
        plan = [("run1", "hate_v1", "hate_v1.md", "hate.csv", STRICT),
                ("run2", "hate_v2", "hate_v2.md", "hate.csv", STRICT),
                ("run3", "hate_v2", "hate_v2.md", "hate.csv", LENIENT),
                ("run4", "spam_v1", "spam_v1.md", "spam.csv", SPAM_GATES)]
        runs = {}
        for folder, name, policy, items, gates in plan:
            experiment = load_experiment(_experiment(src, name, policy, items, gates))
            runs[folder] = run(experiment, out_dir=root / "runs" / folder)
            assert runs[folder].mlflow.synced
        cohort = write_eval_set(root / "cohort", Simulation(items=240))
        quiz_dir = write_quiz(build_quiz(load_experiment(cohort), 120, seed=3), root / "quiz")
        _, key = read_key(quiz_dir / "answer_key.csv")
        simulate_answers(key).to_csv(root / "answers.csv", index=False)
        grading_dir = root / "runs" / "grading"
        grading = grade_files(root / "answers.csv", quiz_dir / "answer_key.csv", grading_dir, track=True)
        assert grading.mlflow_run_id
    return Built(root=root, runs=runs, grading=grading, grading_dir=grading_dir, uri=uri)

"""A simulated reviewer cohort with known error rates, for tests and the docs' worked example.

    python -m harness.testing.cohort DIR                     # DIR/experiment.yaml, policy.md, items.csv
    python -m harness.testing.cohort DIR --key KEY.csv       # DIR/answers.csv: the cohort answers the quiz

Item texts are synthetic placeholders (no real content); the answers are drawn with a fixed seed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

Rule = tuple[str, str]  # (id, text)
DEMO_RULES: tuple[Rule, ...] = (("HS1", "Dehumanising language about a protected group."),
                                ("HS2", "Threats of violence against a protected group."),
                                ("HS3", "Slurs about a protected group."))
DEMO_EXCEPTIONS: tuple[Rule, ...] = (("HS-E1", "Counter-speech that quotes hate to condemn it."),
                                     ("HS-E2", "News reporting of hate that does not endorse it."))


def toy_policy(policy_id: str = "demo_hate", version: int = 1, title: str = "Demo hate-speech policy", *,
               heading: str | None = None, rules: tuple[Rule, ...] = DEMO_RULES,
               exceptions: tuple[Rule, ...] = DEMO_EXCEPTIONS, tail: str = "") -> str:
    """A one-category (HS) hate-speech policy file: the simulated cohort's, and the toy policies tests build on."""
    lines = ["---", f"id: {policy_id}", f"version: {version}", f"title: {title}", "categories:", "  - id: HS",
             "    name: Hate speech", "---", f"# {heading or title}", "", "## Rules",
             *(f"- **{rule_id}** {text}" for rule_id, text in rules)]
    if exceptions:
        lines += ["", "## Exceptions", *(f"- **{rule_id}** {text}" for rule_id, text in exceptions)]
    return "\n".join(lines) + "\n" + tail


POLICY = toy_policy()

EXPERIMENT = """name: training_demo
description: Simulated items for the reviewer-training worked example.
policy: policy.md
eval_set:
  path: items.csv
  name: training_demo
  license: CC0, generated placeholders
  columns: {id: id, text: text, label: label, slices: [tactic, rule]}
reviewers:
  - {name: tfidf-lr, type: classifier}
"""

VIOLATING_RULES, BENIGN_RULES = ("HS1", "HS2", "HS3"), ("HS-E1", "HS-E2")
TACTICS = ("explicit", "coded", "question", "quote")


@dataclass(frozen=True)
class SimulatedReviewer:
    """Error rates a reviewer answers with: acting on benign items, allowing violating ones; `weak`
    rule ids raise both to `weak_error` on the items that rule decides; `skip` leaves items blank."""
    name: str
    over_enforcement: float
    leakage: float
    skip: float = 0.0
    weak: tuple[str, ...] = ()
    weak_error: float = 0.0

    def error(self, gold: str, rule: str) -> float:
        if rule in self.weak:
            return self.weak_error
        return self.over_enforcement if gold == "benign" else self.leakage


COHORT: tuple[SimulatedReviewer, ...] = (
    SimulatedReviewer("ada", over_enforcement=0.02, leakage=0.02),
    SimulatedReviewer("ben", over_enforcement=0.10, leakage=0.08),
    SimulatedReviewer("cy", over_enforcement=0.05, leakage=0.35),
    SimulatedReviewer("dee", over_enforcement=0.02, leakage=0.02, skip=0.25, weak=("HS-E1",), weak_error=0.7),
    SimulatedReviewer("eve", over_enforcement=0.30, leakage=0.03),
)


@dataclass
class Simulation:
    seed: int = 7
    items: int = 600
    cohort: tuple[SimulatedReviewer, ...] = field(default=COHORT)


def write_eval_set(folder: Path, sim: Simulation = Simulation(), extra: list[dict[str, str]] | None = None) -> Path:
    """experiment.yaml, policy.md and items.csv (half benign) in `folder`; returns the experiment path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(sim.seed)
    rows = []
    for i in range(sim.items):
        violating = i % 2 == 0
        rule = str(rng.choice(VIOLATING_RULES if violating else BENIGN_RULES))
        tactic = str(rng.choice(TACTICS))
        rows.append({"id": f"q{i:04d}", "text": f"Synthetic item {i}: a {tactic} case decided by {rule}.",
                     "label": "HS" if violating else "benign", "tactic": tactic, "rule": rule})
    rows.extend(extra or [])
    pd.DataFrame(rows).to_csv(folder / "items.csv", index=False)
    (folder / "policy.md").write_text(POLICY, encoding="utf-8")
    (folder / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
    return folder / "experiment.yaml"


def simulate_answers(key: pd.DataFrame, sim: Simulation = Simulation()) -> pd.DataFrame:
    """Long answers `reviewer, id, decision` ('violating' / 'benign' / blank for a skip)."""
    rng = np.random.default_rng(sim.seed + 1)
    rows = []
    items = list(zip(key["id"].astype(str), key["gold"].astype(str), key["rule_ids"].astype(str), strict=True))
    for reviewer in sim.cohort:
        for item_id, gold, rule in items:
            if rng.random() < reviewer.skip:
                rows.append({"reviewer": reviewer.name, "id": item_id, "decision": ""})
                continue
            right = rng.random() >= reviewer.error(gold, rule)
            violating = (gold != "benign") == right
            rows.append({"reviewer": reviewer.name, "id": item_id, "decision": "violating" if violating else "benign"})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--key", type=Path, help="a quiz's answer_key.csv: write DIR/answers.csv")
    args = parser.parse_args(argv)
    if args.key:
        key = pd.read_csv(args.key, dtype=str, keep_default_na=False)
        simulate_answers(key).to_csv(args.folder / "answers.csv", index=False)
        print(args.folder / "answers.csv")
    else:
        print(write_eval_set(args.folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

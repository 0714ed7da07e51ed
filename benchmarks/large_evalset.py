"""Figure 5: a large eval set. A 1,000,000-item CSV is generated into a temp dir, then, in a fresh
child process, loaded and validated (harness.evalset.load_evalset, check_labels) and judged by the
classifier reviewer trained on a separate ~5,000-item training set. Phases are timed; the child's
peak RSS comes from wait4 in the parent, and each phase's own peak from VmHWM.

  python -m benchmarks.large_evalset generate DIR --items 1000000
  python -m benchmarks.large_evalset measure DIR
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path
from typing import Any

from benchmarks.common import QUICKSTART_ITEMS, V2, peak_rss_mb, report, reset_peak_rss

COLUMNS = {"id": "id", "text": "text", "label": "label", "slices": ["tactic", "language"]}
LABELS = {"hateful": "HS", "non-hateful": "benign"}


def generate(out_dir: Path, items: int, train_items: int, seed: int = 0) -> dict[str, Any]:
    """Rows drawn from the quick-start set (text, label, tactic, language) with a numbered variant."""
    with QUICKSTART_ITEMS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, n in (("items.csv", items), ("train.csv", train_items)):
        path = out_dir / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "text", "label", "tactic", "language"])
            for i in range(n):
                row = rows[rng.randrange(len(rows))]
                writer.writerow([f"{name[0]}{i:07d}", f"{row['text']} #{rng.randrange(10**6)}", row["label"],
                                 row["tactic"], row["language"]])
        sizes[name] = path.stat().st_size
    return {"items": items, "train_items": train_items, "bytes": sizes}


def measure(data_dir: Path) -> dict[str, Any]:
    from harness.config import ClassifierReviewerConfig, EvalSetConfig
    from harness.evalset import load_evalset
    from harness.policy import load_policy
    from harness.reviewers.classifier import ClassifierReviewer

    policy = load_policy(V2)
    phases: dict[str, dict[str, float]] = {}

    def phase(name: str, started: float) -> None:
        phases[name] = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}

    reset_peak_rss()
    started = time.perf_counter()
    evalset = load_evalset(EvalSetConfig(path=str(data_dir / "items.csv"), columns=COLUMNS, labels=LABELS))
    evalset.check_labels(policy.category_ids, policy_path=policy.path)
    phase("load_and_validate", started)

    config = ClassifierReviewerConfig(type="classifier", name="tfidf-lr", train=EvalSetConfig(
        path=str(data_dir / "train.csv"), columns=COLUMNS, labels=LABELS))
    reviewer = ClassifierReviewer(config)
    reset_peak_rss()
    started = time.perf_counter()
    verdicts = reviewer.review(evalset.items, policy)
    phase("classifier_review", started)
    return {"items": len(evalset), "verdicts": len(verdicts), "phases": phases,
            "actioned": sum(v.decision == "actioned" for v in verdicts)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["generate", "measure"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--train-items", type=int, default=5_000)
    args = parser.parse_args()
    if args.step == "generate":
        started = time.perf_counter()
        result = generate(args.dir, args.items, args.train_items)
        report({**result, "seconds": time.perf_counter() - started})
    else:
        report(measure(args.dir))


if __name__ == "__main__":
    main()

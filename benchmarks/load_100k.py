"""Load test (issue 8): N items (default 100,000) through an LLM reviewer against a flaky provider.

The fake OpenAI-compatible server runs in its own process and fails on purpose: 429s with Retry-After,
500s, hangs past the client timeout, dropped connections and unparseable answers. The run must account
for every item: exactly one verdict, or one abstention with its reason, per item; and every decided
item must carry its own answer (the fake model actions exactly the items holding the VIOLATE marker,
so an answer delivered to the wrong item would show). Prints what was retried, why items abstained,
wall time and peak RSS. Exit status 1 if any item is unaccounted for.

    .venv/bin/python benchmarks/load_100k.py [--items N] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness._util.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
V2 = REPO / "prompts" / "policies" / "hate_speech" / "v2.md"
TEMPLATE = REPO / "harness" / "reviewers" / "prompt_templates" / "reviewer_v1.md"
FAULTS = {"--rate-429": "0.02", "--rate-500": "0.02", "--rate-timeout": "0.005", "--hang-s": "3",
          "--rate-disconnect": "0.01", "--rate-garbage": "0.01", "--retry-after-s": "0.1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="how many items (default 100,000)")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="the fake server's fault seed")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (items.csv, out/, cache/)")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    return parser.parse_args(argv)


def write_items(path: Path, n: int) -> None:
    """Synthetic items; every third holds the marker the fake model actions."""
    import pandas as pd

    violating = [i % 3 == 0 for i in range(n)]
    pd.DataFrame({
        "id": [f"item-{i:06d}" for i in range(n)],
        "text": [f"synthetic post number {i} about the weather{' VIOLATE' if v else ''}" for i, v in enumerate(violating)],
        "label": ["hateful" if v else "non-hateful" for v in violating],
    }).to_csv(path, index=False)


def start_server(seed: int) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, "-m", "harness.testing.openai_server", "--seed", str(seed)]
    for flag, value in FAULTS.items():
        args += [flag, value]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the fake server did not start (printed {url!r})")
    return proc, url


def stop_server(proc: subprocess.Popen[str]) -> float:
    """Stop the server; its peak RSS in MB. (Read from /proc before it exits: wait4's ru_maxrss would
    also count the copy of this process it was forked from.)"""
    peak_kb = 0
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak_kb = int(line.split()[1])
    except OSError:
        pass
    stop_process(proc)
    return peak_kb / 1024


def account(items_csv: Path, verdicts: Any) -> dict[str, Any]:
    """Every item exactly once; abstentions with reasons; each decision is the item's own answer."""
    import pandas as pd

    items = pd.read_csv(items_csv, dtype=str, keep_default_na=False)
    per_item = verdicts["item_id"].value_counts()
    expected = set(items["id"])
    abstained = verdicts["decision"] == "abstained"
    decided = verdicts[~abstained].merge(items, left_on="item_id", right_on="id", suffixes=("", "_item"))
    wrong = (decided["decision"] == "actioned") != decided["text_item"].str.contains("VIOLATE")
    return {
        "items": len(items),
        "verdict_rows": len(verdicts),
        "missing": len(expected - set(per_item.index)),
        "unexpected": len(set(per_item.index) - expected),
        "duplicated": int((per_item > 1).sum()),
        "abstained_without_reason": int((abstained & (verdicts["abstain_reason"].str.strip() == "")).sum()),
        "decided_with_reason": int((~abstained & (verdicts["abstain_reason"].str.strip() != "")).sum()),
        "unknown_decisions": int((~verdicts["decision"].isin(["actioned", "allowed", "abstained"])).sum()),
        "answers_for_another_item": int(wrong.sum()),
    }


def reason_kind(reason: str) -> str:
    """'timeout after 3 retries: litellm.Timeout ...' -> 'timeout after 3 retries'."""
    return reason.split(":", 1)[0].strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="load-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["POLICY_HARNESS_CACHE"] = str(work / "cache" / "judgements.sqlite")
    os.environ.setdefault("HF_DATASETS_CACHE", str(work / "hf"))

    import harness
    from harness.config import parse_experiment

    items_csv = work / "items.csv"
    write_items(items_csv, args.items)
    experiment = parse_experiment({
        "name": "load", "policy": str(V2), "tracking": {"enabled": False},
        "eval_set": {"path": str(items_csv), "columns": {"id": "id", "text": "text", "label": "label"},
                     "labels": {"hateful": "HS", "non-hateful": "benign"}},
        "reviewers": [{"name": "flaky", "type": "llm", "model": "openai/fake-model", "prompt": str(TEMPLATE),
                       "concurrency": args.concurrency, "timeout_s": args.timeout_s, "max_retries": args.max_retries}],
    })
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    server, url = start_server(args.seed)
    experiment.reviewers[0].api_base = url
    try:
        started = time.perf_counter()
        record = harness.run(experiment, out_dir=work / "out", track=False, report=False)
        wall = time.perf_counter() - started
    finally:
        server_rss = stop_server(server)
    verdicts = record.verdicts
    checks = account(items_csv, verdicts)
    usage = record.usage["flaky"]
    reasons = Counter(reason_kind(r) for r in verdicts.loc[verdicts["decision"] == "abstained", "abstain_reason"])
    summary = {
        "items": args.items, "concurrency": args.concurrency, "timeout_s": args.timeout_s,
        "max_retries": args.max_retries, "faults": {k.lstrip("-"): float(v) for k, v in FAULTS.items()},
        "wall_s": round(wall, 1), "items_per_s": round(args.items / wall, 1),
        "calls": usage.calls, "retries": usage.retries, "cached": usage.cached,
        "abstained": int(sum(reasons.values())), "abstained_by_reason": dict(reasons.most_common()),
        "decisions": verdicts["decision"].value_counts().to_dict(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_imports_mb": round(rss_before, 1), "server_peak_rss_mb": round(server_rss, 1),
        "accounting": checks, "work_dir": str(work),
    }
    ok = (checks["missing"] == checks["unexpected"] == checks["duplicated"] == checks["abstained_without_reason"]
          == checks["decided_with_reason"] == checks["unknown_decisions"] == checks["answers_for_another_item"] == 0
          and checks["verdict_rows"] == checks["items"] == args.items)
    print(f"{args.items:,} items through a flaky provider (concurrency {args.concurrency}, timeout {args.timeout_s:g} s, "
          f"max_retries {args.max_retries}): {'every item accounted for' if ok else 'ACCOUNTING FAILED'}")
    print(f"  wall {wall:,.1f} s ({summary['items_per_s']:,} items/s); {summary['calls']:,} answers, "
          f"{summary['retries']:,} retries")
    print(f"  decisions: {summary['decisions']}")
    for reason, count in reasons.most_common():
        print(f"  abstained {count:>6,}  {reason}")
    print(f"  peak RSS {summary['peak_rss_mb']:,} MB (after imports {summary['rss_after_imports_mb']:,} MB); "
          f"fake server {summary['server_peak_rss_mb']:,} MB")
    if not ok:
        print(f"  accounting: {checks}")
    if args.json:
        print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

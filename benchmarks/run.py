"""`make bench`: measure every figure of issue 9 side by side in one run, print a table and write
benchmarks/results.json. Each measurement runs in its own child process; the fake provider runs in
another, so neither shares a GIL with what is measured.

    python -m benchmarks                  # everything (under 10 minutes on 2 cores)
    python -m benchmarks --only fanout,startup
    python -m benchmarks --quick          # small sizes: a smoke test of the runner itself
    python -m benchmarks --profile        # also profile the harness overhead run (cProfile top 15)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, ChildFailed, child, fake_provider, machine
from benchmarks.score_stream import figure as score_stream
from benchmarks.score_stream import table_rows as score_stream_rows
from benchmarks.whole_run import figure as whole_run
from benchmarks.whole_run import table_rows as whole_run_rows

RESULTS = REPO / "benchmarks" / "results.json"
LATENCY_MS = 100
TARGET_SHARE_OF_BARE = 0.90
FULL = {"n": 5000, "concurrency": [16, 64, 256], "overhead_concurrency": 64, "stats_items": 500_000,
        "evalset_items": 1_000_000, "train_items": 5000, "prompt_items": 1000, "local_items": 10, "startup_runs": 5}
QUICK = {"n": 400, "concurrency": [16, 64, 256], "overhead_concurrency": 64, "stats_items": 20_000,
         "evalset_items": 20_000, "train_items": 2000, "prompt_items": 100, "local_items": 2, "startup_runs": 2}
FIGURES = ("fanout", "stats", "evalset", "prompt_cache", "local_model", "startup", "whole_run", "score_stream")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def fanout(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    """Figures 1-3 share the fake provider's process start-up and the warm cache of the last run."""
    n, out = size["n"], {}
    rows = []
    with fake_provider(LATENCY_MS) as base:
        for c in size["concurrency"]:
            say(f"  fan-out C={c}: bare openai loop ...")
            bare = child("benchmarks.fanout", "bare", "--base", base, "--n", n, "--concurrency", c)
            say(f"  fan-out C={c}: harness ...")
            cache = tmp / f"fanout-{c}.sqlite"
            harness = child("benchmarks.fanout", "harness", "--base", base, "--n", n, "--concurrency", c,
                            "--cache", cache, tty=True)
            ideal = n * LATENCY_MS / 1000 / c
            share = bare["wall_s"] / harness["wall_s"]
            rows.append({"concurrency": c, "ideal_s": ideal, "harness_s": harness["wall_s"], "bare_s": bare["wall_s"],
                         "harness_vs_ideal": ideal / harness["wall_s"], "bare_vs_ideal": ideal / bare["wall_s"],
                         "harness_share_of_bare_throughput": share, "meets_target": share >= TARGET_SHARE_OF_BARE,
                         "harness_items_per_s": n / harness["wall_s"], "bare_items_per_s": n / bare["wall_s"],
                         "harness_cpu_ms_per_item": harness["cpu_s"] / n * 1e3,
                         "bare_cpu_ms_per_item": bare["cpu_s"] / n * 1e3,
                         "abstained": harness["abstained"], "calls": harness["calls"]})
        last_base = base
    out["fanout"] = {"n": n, "latency_ms": LATENCY_MS, "target_share_of_bare": TARGET_SHARE_OF_BARE, "runs": rows}

    say("  cached re-run (provider stopped) ...")
    cached = child("benchmarks.fanout", "cached", "--base", last_base, "--n", n,
                   "--cache", tmp / f"fanout-{size['concurrency'][-1]}.sqlite", tty=True)
    out["cached_rerun"] = {"n": n, "http_requests": cached["calls"], "cached": cached["cached"],
                           "wall_s": cached["wall_s"], "in_cache_s": cached["in_cache_s"],
                           "share_outside_cache": 1 - cached["in_cache_s"] / cached["wall_s"],
                           "provider": "stopped: any request would have failed the run"}

    c = size["overhead_concurrency"]
    with fake_provider(0) as base:
        say(f"  overhead (zero latency, C={c}): bare ...")
        bare = child("benchmarks.fanout", "bare", "--base", base, "--n", n, "--concurrency", c)
        say(f"  overhead (zero latency, C={c}): harness ...")
        prof = tmp / "overhead.prof" if profile else None
        args: list[object] = ["--profile", prof] if prof else []
        harness = child("benchmarks.fanout", "harness", "--base", base, "--n", n, "--concurrency", c,
                        "--cache", tmp / "overhead.sqlite", *args, tty=True)
    out["overhead"] = {"n": n, "concurrency": c, "harness_cpu_ms_per_item": harness["cpu_s"] / n * 1e3,
                       "bare_cpu_ms_per_item": bare["cpu_s"] / n * 1e3,
                       "harness_items_per_s": n / harness["wall_s"], "bare_items_per_s": n / bare["wall_s"],
                       "profiled": bool(prof)}
    if prof:
        out["overhead"]["profile_top"] = profile_top(prof)
    return out


def profile_top(path: Path, limit: int = 15) -> list[str]:
    stats = pstats.Stats(str(path))
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:limit]  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    return [f"{tottime / total:6.1%} {tottime:7.3f}s {ncalls:>8} {Path(file).name}:{line}({name})"
            for (file, line, name), (_, ncalls, tottime, _, _) in rows]


def stats(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    say(f"  metrics on {2 * size['stats_items']:,} verdicts ...")
    r = child("benchmarks.stats", "--items", size["stats_items"])
    return {"stats": {"verdicts": r["verdicts"], "seconds": r["seconds"], "phases_s": r["phases_s"],
                      "rss_before_mb": r["rss_before_mb"], "peak_rss_mb": r["peak_rss_mb"],
                      "process_peak_rss_mb": r["process"]["peak_rss_mb"], "flips": r["flips"],
                      "target_s": r["target_s"], "target_peak_rss_mb": r["target_peak_rss_mb"],
                      "meets_target": r["seconds"] <= r["target_s"]
                      and r["process"]["peak_rss_mb"] <= r["target_peak_rss_mb"]}}


def evalset(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    say(f"  generating a {size['evalset_items']:,}-item CSV ...")
    data = tmp / "large"
    made = child("benchmarks.large_evalset", "generate", data, "--items", size["evalset_items"],
                 "--train-items", size["train_items"])
    say("  loading, validating and classifying it ...")
    r = child("benchmarks.large_evalset", "measure", data, timeout_s=900)
    return {"large_evalset": {"items": r["items"], "train_items": size["train_items"],
                              "csv_mb": made["bytes"]["items.csv"] / 1e6, "phases": r["phases"],
                              "process_peak_rss_mb": r["process"]["peak_rss_mb"], "wall_s": r["process"]["wall_s"]}}


def prompt_cache(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    say("  prompt prefixes ...")
    r = child("benchmarks.prompt_cache", "--items", size["prompt_items"])
    r.pop("process")
    return {"prompt_cache": r}


def local_model(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    say(f"  local model on {size['local_items']} items ...")
    try:
        r = child("benchmarks.local_model", "--items", size["local_items"], timeout_s=600)
    except ChildFailed as err:
        return {"local_model": {"skipped": str(err).splitlines()[-1][:300]}}
    r.pop("process")
    return {"local_model": r}


def startup(size: dict[str, Any], tmp: Path, profile: bool) -> dict[str, Any]:
    say("  start-up ...")
    r = child("benchmarks.startup", "--runs", size["startup_runs"])
    r.pop("process")
    return {"startup": r}


STEPS: dict[str, Callable[[dict[str, Any], Path, bool], dict[str, Any]]] = {
    "fanout": fanout, "stats": stats, "evalset": evalset, "prompt_cache": prompt_cache,
    "local_model": local_model, "startup": startup, "whole_run": whole_run,
    "score_stream": score_stream}


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    f = results.get("fanout")
    if f:
        for r in f["runs"]:
            rows.append((f"1 fan-out C={r['concurrency']}",
                         f"harness {r['harness_s']:.2f} s ({r['harness_items_per_s']:.0f}/s), bare openai "
                         f"{r['bare_s']:.2f} s, ideal N*L/C {r['ideal_s']:.2f} s",
                         f"{r['harness_share_of_bare_throughput']:.0%} of bare, {r['harness_vs_ideal']:.0%} of ideal "
                         f"({'ok' if r['meets_target'] else 'BELOW'} >= 90% of bare)"))
    o = results.get("overhead")
    if o:
        rows.append((f"2 CPU per call (C={o['concurrency']}, 0 ms)",
                     f"harness {o['harness_cpu_ms_per_item']:.2f} ms, bare openai {o['bare_cpu_ms_per_item']:.2f} ms",
                     f"{o['harness_items_per_s']:.0f} vs {o['bare_items_per_s']:.0f} items/s"))
    c = results.get("cached_rerun")
    if c:
        rows.append(("3 cached re-run", f"{c['http_requests']} HTTP requests, {c['wall_s']:.2f} s for {c['n']:,} items",
                     f"{c['share_outside_cache']:.0%} of it outside the cache"))
    s = results.get("stats")
    if s:
        slowest = max(s["phases_s"].items(), key=lambda kv: kv[1])
        rows.append((f"4 metrics on {s['verdicts']:,} verdicts",
                     f"{s['seconds']:.1f} s, peak RSS {s['peak_rss_mb'] or s['process_peak_rss_mb']:.0f} MB",
                     f"slowest phase {slowest[0]} {slowest[1]:.1f} s; "
                     + (f"target <= {s['target_s']:.0f} s, <= {s['target_peak_rss_mb'] / 1024:.0f} GB: "
                        f"{'ok' if s['meets_target'] else 'MISSED'}" if "target_s" in s else "")))
    e = results.get("large_evalset")
    if e:
        load, clf = e["phases"]["load_and_validate"], e["phases"]["classifier_review"]
        rows.append((f"5 eval set of {e['items']:,} items",
                     f"load+validate {load['seconds']:.1f} s, classifier {clf['seconds']:.1f} s",
                     f"peak RSS {e['process_peak_rss_mb'] / 1024:.1f} GB"))
    p = results.get("prompt_cache")
    if p:
        for layout, policies in p.get("layouts", {"policy_as_system": p.get("policies", {})}).items():
            for r in policies.values():
                rows.append((f"6 prompt prefix {r['policy']} {layout}",
                             f"{r['prefix_share_mean']:.1%} of input tokens shared ({r['prefix_tokens']} tokens)",
                             f"{r['input_tokens_per_1000_items']:,} input tokens / 1,000 items"
                             + ("" if r["cacheable_by_openai"] else "; prefix < 1,024: not cached by OpenAI")))
    lm = results.get("local_model")
    if lm:
        rows.append(("7 local model smollm2 first token", "skipped" if "skipped" in lm else
                     f"{lm['items_per_s']:.2f} items/s ({lm['seconds'] / lm['items']:.2f} s/item)",
                     lm.get("skipped", f"server start {lm['startup_s']:.1f} s")[:80]))
        if "generation" in lm:
            gen = lm["generation"]
            rows.append(("7 local model smollm2 generating", f"{gen['items_per_s']:.2f} items/s "
                         f"({gen['seconds'] / gen['items']:.1f} s/item)", f"first token {lm['speedup']:.1f}x faster"))
    st = results.get("startup")
    if st:
        for key, label in (("help", "--help"), ("validate", "validate quickstart")):
            rows.append((f"8 start-up {label}", f"{st[key]['median_s']:.2f} s (median)",
                         "ok < 1 s" if st[key]["median_s"] < 1 else "ABOVE 1 s"))
    rows.extend(whole_run_rows(results.get("whole_run")))
    rows.extend(score_stream_rows(results.get("score_stream")))
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(FIGURES)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test); results not written")
    parser.add_argument("--profile", action="store_true", help="cProfile the harness overhead run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    chosen = [f.strip() for f in args.only.split(",")] if args.only else list(FIGURES)
    unknown = [f for f in chosen if f not in STEPS]
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    size = QUICK if args.quick else FULL
    results: dict[str, Any] = {}
    if args.only and args.out.exists() and not args.quick:
        results = json.loads(args.out.read_text(encoding="utf-8"))  # keep the figures not re-measured
    started = time.perf_counter()
    load_start = os.getloadavg()
    durations: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="policy-harness-bench-") as tmp:
        for name in chosen:
            say(f"{name}:")
            t = time.perf_counter()
            results.update(STEPS[name](size, Path(tmp), args.profile))
            durations[name] = round(time.perf_counter() - t, 1)
    results["machine"] = machine()
    results["run"] = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "quick": args.quick,
                      "figures": chosen, "seconds": round(time.perf_counter() - started, 1),
                      "seconds_by_figure": durations,
                      # Other work on the machine skews every figure; the 1-minute load says how much.
                      "loadavg_1min_start": round(load_start[0], 2), "loadavg_1min_end": round(os.getloadavg()[0], 2)}
    m = results["machine"]
    print(f"\npolicy-harness benchmarks on {m['nproc']} x {m['cpu_model']}, Python {m['python']}"
          f" ({results['run']['seconds']:.0f} s)\n")
    print(table(results))
    if not args.quick:
        args.out.write_text(json.dumps(_rounded(results), indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten: {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())

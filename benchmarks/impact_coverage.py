"""Coverage study of the impact forecast's intervals: `python -m benchmarks.impact_coverage`.

Each design is a platform with known truth: per language, items per day, prevalence, and each
version's joint decision probabilities per gold class (the candidate and the baseline agree on most
items). A replicate draws what a planner has: an eval set of n benign and n violating items per
language (the versions' decisions drawn jointly, item by item), and a production prevalence
estimated from m labelled items per language (prevalence_n = m). The forecast runs through
harness.metrics.impact (the code `policy-harness impact` runs: row_evidence, simulate, summarise);
the table reports how often each 95% interval covers the true forecast (the formulas at the true
rates and prevalence) for the overall sum and for the first language, with the median width
relative to the truth. tests/metrics/test_impact_coverage.py runs a small grid with fewer replicates.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from harness.metrics.impact import Plan, RowEvidence, forecast, prevalence_draws, simulate, summarise

PLAN = Plan(route="actions", sample_share=0.0, hours_per_reviewer_day=6.5, appeal_wrongful=0.25,
            appeal_correct=0.04, overturn_rate=0.7)
QUANTITIES = ("actions", "wrongful_actions", "missed_violations", "reviewers_fte", "overturns")
SECONDS = 45.0


@dataclass(frozen=True)
class Language:
    volume: float
    prevalence: float
    benign: tuple[float, float, float]  # candidate actions, baseline actions, share of the smaller both action
    violating: tuple[float, float, float]


@dataclass(frozen=True)
class Design:
    name: str
    languages: tuple[Language, ...]
    benign_items: int  # per language in the eval set
    violating_items: int
    prevalence_items: int  # production items labelled per language for its prevalence


def _cells(spec: tuple[float, float, float]) -> np.ndarray:
    """Joint probabilities of the 16 cells (bit 0 candidate actioned, bit 2 baseline actioned)."""
    cand, base, shared = spec
    both = shared * min(cand, base)
    probs = np.zeros(16)
    probs[0b0101], probs[0b0001], probs[0b0100] = both, cand - both, base - both
    probs[0] = 1 - probs.sum()
    return probs


def truth(design: Design) -> list[dict[str, dict[str, float]]]:
    """Per language, per version (candidate, baseline, change), the forecast at the true values."""
    out = []
    for lang in design.languages:
        per = {}
        for v, name in ((0, "candidate"), (1, "baseline")):
            act = np.array([lang.benign[v], lang.violating[v]])
            got = forecast(lang.volume, lang.prevalence, act, np.zeros(2), SECONDS, PLAN)
            per[name] = {q: float(got[q]) for q in QUANTITIES}
        per["change"] = {q: per["candidate"][q] - per["baseline"][q] for q in QUANTITIES}
        out.append(per)
    return out


def replicate(design: Design, rng: np.random.Generator, draws: int, seed: int) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """One planner's data and its intervals: {'overall' | 'first', version, quantity} -> (low, high)."""
    rows, prevalence, samples = [], [], []
    for lang in design.languages:
        cells = np.stack([rng.multinomial(design.benign_items, _cells(lang.benign)),
                          rng.multinomial(design.violating_items, _cells(lang.violating))]).astype(float)
        own = np.zeros((2, 2, 3))
        for g in range(2):
            for v in range(2):
                own[v, g] = [cells[g][(np.arange(16) >> (2 * v)) & 1 == 1].sum(), cells[g].sum(), 0]
        rows.append(RowEvidence(own, cells))
        estimate = rng.binomial(design.prevalence_items, lang.prevalence) / design.prevalence_items
        prevalence.append(estimate)
        samples.append(prevalence_draws(estimate, design.prevalence_items, draws, rng))
    volume = np.array([lang.volume for lang in design.languages])
    out = simulate(rows, volume, np.array(prevalence), np.stack(samples), np.full(len(rows), SECONDS), PLAN,
                   draws=draws, seed=seed)
    groups = {"overall": np.ones(len(rows), dtype=bool), "first": np.arange(len(rows)) == 0}
    return {group: {version: {q: (e.low, e.high) for q, e in quantities.items() if q in QUANTITIES}
                    for version, quantities in summarise(out, members).items()}
            for group, members in groups.items()}


@dataclass(frozen=True)
class Coverage:
    design: str
    group: str  # "overall" or "first" (the first language)
    version: str
    quantity: str
    coverage: float
    relative_width: float  # median interval width / |truth|


def study(design: Design, replicates: int, seed: int = 2028, draws: int = 2_000) -> list[Coverage]:
    """Coverage and median relative width per group, version and quantity."""
    rng = np.random.default_rng(seed)
    true = truth(design)
    want = {"overall": {v: {q: sum(t[v][q] for t in true) for q in QUANTITIES} for v in true[0]},
            "first": true[0]}
    hits: dict[tuple[str, str, str], list[bool]] = {}
    widths: dict[tuple[str, str, str], list[float]] = {}
    for r in range(replicates):
        got = replicate(design, rng, draws, seed + r)
        for group, versions in got.items():
            for version, quantities in versions.items():
                for q, (low, high) in quantities.items():
                    key = (group, version, q)
                    target = want[group][version][q]
                    hits.setdefault(key, []).append(low <= target <= high)
                    widths.setdefault(key, []).append((high - low) / abs(target) if target else np.nan)
    return [Coverage(design.name, g, v, q, float(np.mean(hits[(g, v, q)])), float(np.nanmedian(widths[(g, v, q)])))
            for (g, v, q) in hits]


def _languages(prevalence: float) -> tuple[Language, ...]:
    return (Language(40_000, prevalence, benign=(0.08, 0.05, 0.8), violating=(0.85, 0.75, 0.9)),
            Language(150_000, prevalence * 1.5, benign=(0.03, 0.03, 0.7), violating=(0.7, 0.8, 0.85)))


DESIGNS = (
    Design("prevalence 0.1%, 100+100 items, prevalence from 5,000", _languages(0.001), 100, 100, 5_000),
    Design("prevalence 0.1%, 30+15 items (small slices), prevalence from 5,000", _languages(0.001), 30, 15, 5_000),
    Design("prevalence 1%, 100+100 items, prevalence from 2,000", _languages(0.01), 100, 100, 2_000),
    Design("prevalence 1%, 30+15 items (small slices), prevalence from 2,000", _languages(0.01), 30, 15, 2_000),
    Design("prevalence 1%, 400+200 items, prevalence from 20,000", _languages(0.01), 400, 200, 20_000),
    Design("prevalence 10%, 200+200 items, prevalence from 1,000", _languages(0.10), 200, 200, 1_000),
)


SHOWN = ("actions", "wrongful_actions", "missed_violations")  # reviewers and overturns scale these


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=2028)
    args = parser.parse_args()
    print("| design | group | version | " + " | ".join(f"{q}: coverage (width / truth)" for q in SHOWN) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in SHOWN) + " |")
    for design in DESIGNS:
        rows = {(r.group, r.version, r.quantity): r for r in study(design, args.replicates, args.seed)}
        for group in ("overall", "first"):
            for version in ("candidate", "baseline", "change"):
                cells = [rows[(group, version, q)] for q in SHOWN]
                print(f"| {design.name} | {group} | {version} | " + " | ".join(
                    f"{c.coverage:.1%} ({c.relative_width:.2f})" for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

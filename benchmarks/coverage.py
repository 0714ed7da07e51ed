"""Coverage study of the weighted (population) intervals: `python -m benchmarks.coverage`.

Each design is a production population with known rates, sampled many times the way eval sets are
built; for each sample the harness's interval (harness.metrics.weighted.ratio_interval, with the
weights and strata population_weights would give) is computed, and the table reports how often it
covers the true population rate, its median width, the median effective n and the share of samples
flagged with a small-sample warning. tests/metrics/test_coverage_grid.py runs the same grid with
fewer replicates.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from harness.metrics.rates import SMALL_SAMPLE
from harness.metrics.weighted import ratio_interval

RATES = ("over_enforcement", "leakage", "false_action_share")
CHUNK = 250  # replicates per block: bounds the memory of the Monte Carlo draws
# Monte Carlo draws per interval in the study; metrics use 20,000. Fewer draws only add a little
# noise to each bound (about 0.005 on an interval 0.3 wide), not a bias.
STUDY_DRAWS = 2_000


@dataclass(frozen=True)
class Design:
    """Per stratum: production share, items sampled, violating share, over-enforcement, leakage.

    `weighting`: 'strata' (strata sizes), 'prevalence' (strata are gold classes, weights from a
    prevalence) or 'weight column' (one stratum, weights vary between items)."""
    description: str
    share: tuple[float, ...]
    sampled: tuple[int, ...]
    violating: tuple[float, ...]
    over: tuple[float, ...]
    leak: tuple[float, ...]
    weighting: str = "strata"

    def truth(self) -> dict[str, float]:
        n, v, o, lk = (np.array(a, dtype=float) for a in (self.share, self.violating, self.over, self.leak))
        wrong_actions, right_actions = (n * (1 - v) * o).sum(), (n * v * (1 - lk)).sum()
        return {"over_enforcement": wrong_actions / (n * (1 - v)).sum(), "leakage": (n * v * lk).sum() / (n * v).sum(),
                "false_action_share": wrong_actions / (wrong_actions + right_actions)}


DESIGNS: dict[str, Design] = {
    "issue 13: reported 2% / random": Design(
        "reported stratum 2% of traffic 30% violating, random 0.41%; 500 each; misses 10% / 30%",
        (0.02, 0.98), (500, 500), (0.30, 0.0041), (0.05, 0.02), (0.10, 0.30)),
    "prevalence only (1%)": Design(
        "500 benign + 500 violating, weighted to a 1% prevalence", (0.99, 0.01), (500, 500), (0.0, 1.0),
        (0.05, 0.0), (0.0, 0.2), weighting="prevalence"),
    "single stratum, weight column": Design(
        "three sources sampled unequally, analysed from a weight column alone",
        (100_000, 50_000, 20_000), (300, 200, 150), (0.2, 0.4, 0.6), (0.05, 0.10, 0.20), (0.3, 0.2, 0.1),
        weighting="weight column"),
    "few violating items": Design(
        "about 4 and 20 violating items in two strata", (0.9, 0.1), (400, 200), (0.01, 0.1), (0.03, 0.06), (0.3, 0.2)),
    "error rates differ by stratum": Design(
        "over-enforcement 2% vs 15%, leakage 40% vs 10%", (0.7, 0.3), (300, 300), (0.05, 0.4), (0.02, 0.15), (0.4, 0.1)),
    "three sources": Design(
        "three strata, moderate rates", (100_000, 50_000, 20_000), (300, 200, 150), (0.2, 0.4, 0.6),
        (0.05, 0.10, 0.20), (0.3, 0.2, 0.1)),
    "rare violations oversampled": Design(
        "99% of traffic with 0.1% violating, 300 items each; the big stratum shows ~0.3 violating items",
        (990_000, 10_000), (300, 300), (0.001, 0.99), (0.05, 0.10), (0.3, 0.2)),
}


def sample(design: Design, replicates: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray | None, dict[str, tuple[np.ndarray, np.ndarray]], str | None]:
    """Weights and strata as population_weights gives them, and (numerator, denominator) per rate."""
    share, sampled = np.array(design.share, dtype=float), np.array(design.sampled)
    stratum = np.repeat(np.arange(share.size), sampled)
    weights = (share / sampled)[stratum]
    shape = (replicates, stratum.size)
    violating = rng.random(shape) < np.array(design.violating)[stratum]
    draw = rng.random(shape)
    actioned = np.where(violating, draw >= np.array(design.leak)[stratum], draw < np.array(design.over)[stratum])
    rates = {"over_enforcement": (actioned, ~violating), "leakage": (~actioned, violating),
             "false_action_share": (~violating, actioned)}
    codes = None if design.weighting == "weight column" else stratum
    return weights, codes, rates, ("prevalence" if design.weighting == "prevalence" else None)


FIXED = {"over_enforcement": "denominator", "leakage": "denominator", "false_action_share": "numerator"}


def study(designs: dict[str, Design], replicates: int, seed: int = 2024) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for index, (name, design) in enumerate(designs.items()):
        rng = np.random.default_rng(seed + index)
        truth = design.truth()
        covered: dict[str, list[np.ndarray]] = {r: [] for r in RATES}
        width: dict[str, list[np.ndarray]] = {r: [] for r in RATES}
        n_eff: dict[str, list[np.ndarray]] = {r: [] for r in RATES}
        for start in range(0, replicates, CHUNK):
            weights, codes, rates, weighting = sample(design, min(CHUNK, replicates - start), rng)
            for rate, (numerator, denominator) in rates.items():
                out = ratio_interval(numerator, denominator, weights, codes, draws=STUDY_DRAWS,
                                     fixed=FIXED[rate] if weighting == "prevalence" else None)
                defined = np.isfinite(out["estimate"])
                covered[rate].append(((out["ci_low"] <= truth[rate]) & (truth[rate] <= out["ci_high"]))[defined])
                width[rate].append((out["ci_high"] - out["ci_low"])[defined])
                n_eff[rate].append(out["n_eff"][defined])
                method = str(out["method"])
        for rate in RATES:
            hits, spread, size = (np.concatenate(v[rate]) for v in (covered, width, n_eff))
            rows.append({"design": name, "rate": rate, "truth": truth[rate], "coverage": float(hits.mean()),
                         "median_width": float(np.median(spread)), "median_n_eff": float(np.median(size)),
                         "warned": float((size < SMALL_SAMPLE).mean()), "samples": int(hits.size), "method": method})
    return rows


@dataclass(frozen=True)
class PPIDesign:
    """Rows judged by a reviewer, a random `gold` of them labelled; per stratum: share of rows,
    prevalence, the reviewer's sensitivity and false-positive rate."""
    rows: int
    gold: int
    share: tuple[float, ...]
    prevalence: tuple[float, ...]
    sensitivity: tuple[float, ...]
    false_positive: tuple[float, ...]


PPI_DESIGNS: dict[str, PPIDesign] = {
    "good reviewer, 20% prevalence": PPIDesign(5000, 300, (1.0,), (0.2,), (0.9,), (0.05,)),
    "weak reviewer, 20% prevalence": PPIDesign(5000, 300, (1.0,), (0.2,), (0.6,), (0.2,)),
    "two strata, errors differ": PPIDesign(5000, 400, (0.3, 0.7), (0.4, 0.05), (0.9, 0.7), (0.1, 0.03)),
    "rare (1%), 300 gold: a limit": PPIDesign(5000, 300, (1.0,), (0.01,), (0.9,), (0.02,)),
}
PPI_LIMITS = {"rare (1%), 300 gold: a limit"}  # about 3 violating gold rows: the normal interval fails


def ppi_study(designs: dict[str, PPIDesign], replicates: int, seed: int = 7) -> list[dict[str, object]]:
    from harness.metrics.ppi import prediction_powered

    rows: list[dict[str, object]] = []
    for index, (name, d) in enumerate(designs.items()):
        rng = np.random.default_rng(seed + index)
        share = np.array(d.share)
        truth = float((share * np.array(d.prevalence)).sum())
        hits = {"gold only": [], "PPI++": [], "stratified PPI++": []}
        widths = {k: [] for k in hits}
        gains = []
        for _ in range(replicates):
            stratum = rng.choice(share.size, size=d.rows, p=share)
            violating = rng.random(d.rows) < np.array(d.prevalence)[stratum]
            draw = rng.random(d.rows)
            actioned = np.where(violating, draw < np.array(d.sensitivity)[stratum],
                                draw < np.array(d.false_positive)[stratum])
            labelled = np.zeros(d.rows, dtype=bool)
            labelled[rng.choice(d.rows, size=d.gold, replace=False)] = True
            out = prediction_powered(violating, labelled, actioned, stratum if share.size > 1 else None)["prevalence"]
            for key, value in (("gold only", out["gold_only"]), ("PPI++", out["prediction_powered"]),
                               ("stratified PPI++", out.get("stratified"))):
                if value:
                    hits[key].append(value["ci_low"] <= truth <= value["ci_high"])
                    widths[key].append(value["ci_high"] - value["ci_low"])
            gains.append(out["effective_gain"] or np.nan)
        for key in hits:
            if hits[key]:
                rows.append({"design": name, "estimate": key, "truth": truth, "coverage": float(np.mean(hits[key])),
                             "median_width": float(np.median(widths[key])),
                             "effective_gain": float(np.nanmedian(gains)) if key == "PPI++" else None})
    return rows


def ppi_table(rows: list[dict[str, object]]) -> str:
    lines = ["| design | estimate of prevalence | truth | coverage | median width | median effective gain |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        gain = "" if r["effective_gain"] is None else f"{r['effective_gain']:.2f}x"
        lines.append(f"| {r['design']} | {r['estimate']} | {r['truth']:.4f} | {100 * r['coverage']:.1f}% | "
                     f"{r['median_width']:.3f} | {gain} |")
    return "\n".join(lines)


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| design | rate | truth | coverage | median width | median n_eff | warned | interval |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['design']} | {r['rate']} | {r['truth']:.4f} | {100 * r['coverage']:.1f}% | "
                     f"{r['median_width']:.3f} | {r['median_n_eff']:.1f} | {100 * r['warned']:.0f}% | {r['method']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    rows = study(DESIGNS, args.replicates, args.seed)
    se = 100 * np.sqrt(0.95 * 0.05 / args.replicates)
    print(f"95% intervals, {args.replicates:,} simulated eval sets per design (Monte Carlo s.e. of a 95% "
          f"coverage: {se:.2f} points)\n")
    print(table(rows))
    ppi_replicates = max(args.replicates // 4, 100)
    print(f"\nPrediction-powered prevalence (score with blank gold), {ppi_replicates:,} simulated files per design\n")
    print(ppi_table(ppi_study(PPI_DESIGNS, ppi_replicates, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

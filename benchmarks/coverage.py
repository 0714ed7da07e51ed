"""Coverage study of the weighted (population) intervals: `python -m benchmarks.coverage`.

Each design is a production population with known rates per stratum, sampled many times the way
eval sets are built. Every sample goes through the function `score` and `run` call,
harness.metrics.weighted.weighted_metrics, with the frame and strata `score --weight w [--strata s]`
gives it (harness.pipeline.score.weighted_strata) or, for a prevalence, what `run` gives it; the table
reports how often each 95% interval covers the population rate (computed exactly from the design),
its median width, the median effective n and the share of samples whose rate carries a warning.
`--compare` adds, on the same samples, the former interval (Korn & Graubard on the effective size,
what a weight column got before) and Rao & Wu's rescaling bootstrap. tests/metrics/test_coverage_grid.py runs the grid with fewer
replicates.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from harness.labels import BENIGN
from harness.metrics.weighted import ratio_interval, weighted_metrics
from harness.pipeline.score import weighted_strata
from harness.record.metrics import Weighted
from harness.verdicts import ACTIONED, ALLOWED

RATES = ("over_enforcement", "leakage", "false_action_share")
# Monte Carlo draws per interval in the study; metrics use 20,000. Fewer draws only add a little
# noise to each bound (about 0.005 on an interval 0.3 wide), not a bias.
STUDY_DRAWS = 2_000
POPULATION = 1_000_000
Weighting = Literal["weight column", "weight and strata columns", "prevalence"]


@dataclass(frozen=True)
class Design:
    """Per stratum: production share, items sampled, violating share, over-enforcement (FPR),
    leakage (FNR); `names` the stratum column's value of each (strata sharing a name are weight
    classes of one declared stratum). `spread`: sampling proportional to a log-normal size x
    (sigma = spread) inside each stratum, with the chance of violating proportional to x, so weights
    vary inside strata and with the outcome. `weighting` says what the harness is given."""
    description: str
    share: tuple[float, ...]
    sampled: tuple[int, ...]
    violating: tuple[float, ...]
    over: tuple[float, ...]
    leak: tuple[float, ...]
    weighting: Weighting = "weight column"
    names: tuple[str, ...] = ()
    spread: float = 0.0
    prevalence: float | None = None

    def violating_share(self) -> np.ndarray:
        """Each stratum's population share of violating items, exactly (quadrature under spread)."""
        v = np.array(self.violating, dtype=float)
        if not self.spread:
            return v
        z, weight = np.polynomial.hermite_e.hermegauss(80)
        x = np.exp(self.spread * z)
        mean = np.exp(self.spread ** 2 / 2)
        return (np.minimum(1.0, v[:, None] * x[None, :] / mean) * weight).sum(axis=1) / weight.sum()

    def truth(self) -> dict[str, float]:
        n, o, lk = (np.array(a, dtype=float) for a in (self.share, self.over, self.leak))
        v = self.violating_share()
        wrong_actions, right_actions = (n * (1 - v) * o).sum(), (n * v * (1 - lk)).sum()
        return {"over_enforcement": wrong_actions / (n * (1 - v)).sum(), "leakage": (n * v * lk).sum() / (n * v).sum(),
                "false_action_share": wrong_actions / (wrong_actions + right_actions)}


ISSUE = {"share": (0.02, 0.98), "violating": (0.30, 0.0041), "over": (0.05, 0.05), "names": ("reported", "random")}
UNIFORM, HARDER = (0.20, 0.20), (0.10, 0.30)

DESIGNS: dict[str, Design] = {
    **{f"issue 25, {who}, {n} per stratum{', strata column' if strata else ''}": Design(
        f"reported 2% of traffic 30% violating, random 98% 0.41%; {n} each; misses {leak[0]:.0%} / {leak[1]:.0%}",
        sampled=(n, n), leak=leak, weighting="weight and strata columns" if strata else "weight column", **ISSUE)
       for n, strata in ((500, False), (500, True), (200, False), (2000, False))
       for who, leak in (("uniform", UNIFORM), ("harder on random", HARDER))},
    **{f"random stratum 0.1% violating, {who}": Design(
        "as issue 25 (500 each) with 0.1% violating in the random stratum: none drawn in most samples",
        sampled=(500, 500), leak=leak, **{**ISSUE, "violating": (0.30, 0.001)}) for who, leak in
       (("uniform", UNIFORM), ("harder on random", HARDER))},
    "three strata": Design(
        "reported 2% (30% violating), classifier-flagged 8% (5%), random 90% (0.2%); 400 each",
        (0.02, 0.08, 0.90), (400, 400, 400), (0.30, 0.05, 0.002), (0.05, 0.08, 0.03), (0.10, 0.20, 0.35),
        names=("reported", "flagged", "random")),
    "weight classes inside a stratum": Design(
        "random stratum sub-sampled at two rates (new accounts 10% of it at 2%, the rest 0.2%), strata column "
        "names only reported / random", (0.02, 0.098, 0.882), (500, 250, 250), (0.30, 0.02, 0.002),
        (0.05, 0.05, 0.05), (0.10, 0.20, 0.30), weighting="weight and strata columns",
        names=("reported", "random", "random")),
    "size-proportional weights, strata column": Design(
        "issue 25's strata, items drawn proportional to a log-normal size (sigma 0.7) that violating items "
        "also scale with; every weight differs", sampled=(500, 500), leak=HARDER, spread=0.7,
        weighting="weight and strata columns", **ISSUE),
    "size-proportional weights, weight column only": Design(
        "the same, with the weight column alone", sampled=(500, 500), leak=HARDER, spread=0.7, **ISSUE),
    "prevalence only (1%)": Design(
        "500 benign + 500 violating, weighted to a 1% prevalence (run with eval_set.prevalence)",
        (0.99, 0.01), (500, 500), (0.0, 1.0), (0.05, 0.0), (0.0, 0.2), weighting="prevalence", prevalence=0.01),
}


def sample(design: Design, rng: np.random.Generator) -> pd.DataFrame:
    """One eval set, the columns `score` puts beside each decision: gold, decision, weight, source."""
    share, sampled = np.array(design.share, dtype=float), np.array(design.sampled)
    stratum = np.repeat(np.arange(share.size), sampled)
    violating_share = np.array(design.violating)[stratum]
    weights = (POPULATION * share / sampled)[stratum]
    if design.spread:
        x = np.exp(design.spread * rng.standard_normal(stratum.size) + design.spread ** 2)  # size-biased
        mean = np.exp(design.spread ** 2 / 2)
        violating_share = np.minimum(1.0, violating_share * x / mean)
        weights = weights * mean / x
    violating = rng.random(stratum.size) < violating_share
    draw = rng.random(stratum.size)
    actioned = np.where(violating, draw >= np.array(design.leak)[stratum], draw < np.array(design.over)[stratum])
    names = np.array(design.names or [f"s{h}" for h in range(share.size)])
    return pd.DataFrame({"gold": np.where(violating, "HS", BENIGN), "decision": np.where(actioned, ACTIONED, ALLOWED),
                         "weight": 1.0 if design.weighting == "prevalence" else weights, "source": names[stratum]})


def assess(design: Design, frame: pd.DataFrame, draws: int = STUDY_DRAWS) -> Weighted:
    """The weighted block for one sample, through the public path."""
    strata = weighted_strata(frame.assign(_count=1), "source") if design.weighting == "weight and strata columns" \
        else None
    return weighted_metrics(frame, categories=["HS"], strata=strata, prevalence=design.prevalence, draws=draws)


def former(frame: pd.DataFrame, draws: int = STUDY_DRAWS) -> dict[str, tuple[float, float]]:
    """The former interval of `score --weight` (with or without --strata, which it ignored): Korn &
    Graubard's on the effective size, one stratum; for --compare."""
    violating = frame["gold"].to_numpy() != BENIGN
    actioned = frame["decision"].to_numpy() == ACTIONED
    weights = frame["weight"].to_numpy()
    out = {}
    for rate, (numerator, denominator) in {"over_enforcement": (actioned, ~violating), "leakage": (~actioned, violating),
                                           "false_action_share": (~violating, actioned)}.items():
        got = ratio_interval(numerator, denominator, weights, draws=draws, interval="korn-graubard")
        out[rate] = (float(got["ci_low"]), float(got["ci_high"]))
    return out


BOOTSTRAP = 500


def bootstrap(frame: pd.DataFrame, rng: np.random.Generator, replicates: int = BOOTSTRAP) -> dict[str, tuple[float, float]]:
    """Rao & Wu's rescaling bootstrap (JASA 83:231-241, 1988) with m_h = n_h - 1 draws per stratum
    (the small-sample choice that matches the unbiased variance), strata the weight classes,
    percentile interval; for --compare."""
    violating = frame["gold"].to_numpy() != BENIGN
    actioned = frame["decision"].to_numpy() == ACTIONED
    weights = frame["weight"].to_numpy(dtype=float)
    # Strata: the weight classes when few (as the posterior's), else the stratum column.
    values, codes = np.unique(np.round(weights, 6), return_inverse=True)
    if values.size > 10:
        codes = pd.factorize(frame["source"])[0]
    factor = np.zeros((replicates, weights.size))
    for h in np.unique(codes):
        members = np.flatnonzero(codes == h)
        n = members.size
        if n < 2:
            factor[:, members] = 1.0
            continue
        drawn = rng.multinomial(n - 1, np.full(n, 1.0 / n), size=replicates)
        factor[:, members] = drawn * n / (n - 1)
    w = weights * factor
    out = {}
    for rate, (numerator, denominator) in {"over_enforcement": (actioned, ~violating), "leakage": (~actioned, violating),
                                           "false_action_share": (~violating, actioned)}.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (w * (numerator & denominator)).sum(axis=1) / (w * denominator).sum(axis=1)
        ratio = ratio[np.isfinite(ratio)]
        out[rate] = (float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975))) if ratio.size else (np.nan, np.nan)
    return out


def study(designs: dict[str, Design], replicates: int, seed: int = 2024, *, compare: bool = False,
          draws: int = STUDY_DRAWS) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for index, (name, design) in enumerate(designs.items()):
        rng = np.random.default_rng(seed + index)
        resample = np.random.default_rng(seed + 10_000 + index)  # the bootstrap's own: samples stay as without it
        truth = design.truth()
        hits: dict[str, list[bool]] = {r: [] for r in RATES}
        widths: dict[str, list[float]] = {r: [] for r in RATES}
        sizes: dict[str, list[float]] = {r: [] for r in RATES}
        warned: dict[str, list[bool]] = {r: [] for r in RATES}
        old: dict[str, list[tuple[bool, float]]] = {r: [] for r in RATES}
        boot: dict[str, list[tuple[bool, float]]] = {r: [] for r in RATES}
        for _ in range(replicates):
            frame = sample(design, rng)
            out = assess(design, frame, draws)
            for rate in RATES:
                got = out.rate(rate)
                if got is None or got.rate is None or got.ci_low is None or got.ci_high is None:
                    continue
                hits[rate].append(got.ci_low <= truth[rate] <= got.ci_high)
                widths[rate].append(got.ci_high - got.ci_low)
                sizes[rate].append(got.n_eff)
                warned[rate].append(got.warning is not None)
            if compare and design.weighting != "prevalence":  # `run` with a prevalence had the posterior
                for kept, method in ((old, former(frame, draws)), (boot, bootstrap(frame, resample))):
                    for rate, (low, high) in method.items():
                        if np.isfinite(low):
                            kept[rate].append((low <= truth[rate] <= high, high - low))
        for rate in RATES:
            row: dict[str, object] = {
                "design": name, "rate": rate, "truth": truth[rate], "coverage": float(np.mean(hits[rate])),
                "median_width": float(np.median(widths[rate])), "median_n_eff": float(np.median(sizes[rate])),
                "warned": float(np.mean(warned[rate])), "samples": len(hits[rate])}
            if compare and old[rate]:
                row["former_coverage"] = float(np.mean([h for h, _ in old[rate]]))
                row["former_width"] = float(np.median([w for _, w in old[rate]]))
                row["bootstrap_coverage"] = float(np.mean([h for h, _ in boot[rate]]))
                row["bootstrap_width"] = float(np.median([w for _, w in boot[rate]]))
            rows.append(row)
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
            out = prediction_powered(violating, labelled, actioned, stratum if share.size > 1 else None).prevalence
            if out is None:
                continue
            for key, value in (("gold only", out.gold_only), ("PPI++", out.prediction_powered),
                               ("stratified PPI++", out.stratified)):
                if value is not None and value.ci_low is not None and value.ci_high is not None:
                    hits[key].append(value.ci_low <= truth <= value.ci_high)
                    widths[key].append(value.ci_high - value.ci_low)
            gains.append(out.effective_gain or np.nan)
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
    compare = any("former_coverage" in r for r in rows)
    head = "| design | rate | truth | coverage | median width | median n_eff | warned |"
    lines = [head + (" former: coverage | former: width | bootstrap: coverage | bootstrap: width |" if compare else ""),
             "| --- " * (7 + 4 * compare) + "|"]
    for r in rows:
        line = (f"| {r['design']} | {r['rate']} | {r['truth']:.4f} | {100 * r['coverage']:.1f}% | "
                f"{r['median_width']:.3f} | {r['median_n_eff']:.1f} | {100 * r['warned']:.0f}% |")
        if compare:
            line += (f" {100 * r['former_coverage']:.1f}% | {r['former_width']:.3f} |"
                     f" {100 * r['bootstrap_coverage']:.1f}% | {r['bootstrap_width']:.3f} |" if "former_coverage" in r
                     else " | | | |")
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--compare", action="store_true",
                        help="add the former score --weight interval and a rescaling bootstrap")
    parser.add_argument("--design", action="append", help="only these designs (default: all)")
    parser.add_argument("--no-ppi", action="store_true", help="skip the prediction-powered study")
    args = parser.parse_args(argv)
    designs = {k: v for k, v in DESIGNS.items() if not args.design or k in args.design}
    allowance = 100 * 2 * np.sqrt(0.95 * 0.05 / args.replicates)
    print(f"95% intervals, {args.replicates:,} simulated eval sets per design (Monte Carlo allowance on a 95% "
          f"coverage, two standard errors: {allowance:.2f} points)\n")
    for index, (name, design) in enumerate(designs.items()):  # a design's rows as soon as they are done
        seed = args.seed + list(DESIGNS).index(name)  # as in the whole grid, whichever designs are run
        lines = table(study({name: design}, args.replicates, seed, compare=args.compare)).splitlines()
        print("\n".join(lines if index == 0 else lines[2:]), flush=True)
    if not args.no_ppi:
        ppi_replicates = max(args.replicates // 4, 100)
        print(f"\nPrediction-powered prevalence (score with blank gold), {ppi_replicates:,} simulated files per design\n")
        print(ppi_table(ppi_study(PPI_DESIGNS, ppi_replicates, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

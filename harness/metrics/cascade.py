"""Enforcement designs compared on the same items: classifier alone, LLM alone, classifier first with
the LLM on its uncertain band, and either with human review on the last uncertain band.

Thresholds and bands are chosen on the dev split and the rates reported on the held-out split (the
split of `revise`, harness.metrics.split). Human review is taken to reach the gold decision. An
LLM abstention is never an 'allow': in a design with human review it goes to a human, otherwise it
is left out of the rates, as in the run's own. Over-enforcement and leakage carry Wilson intervals
(harness.metrics.rates); the human-reviewed share and the cost per 1,000 items carry the
2.5%-97.5% quantiles of a Jeffreys-Dirichlet posterior over the items' routes (Gelman et al.,
*Bayesian Data Analysis*, 3rd ed., 2013, section 3.4: the multinomial model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.metrics.rates import wilson
from harness.record.metrics import Rate

WIDTHS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4)  # half-widths of the bands tried on dev
DRAWS = 10_000
SEED = 20_281


@dataclass(frozen=True)
class Items:
    """Per item: gold, the classifier's score, the LLM's decision (actioned, decided) and score (NaN: none)."""

    violating: np.ndarray
    classifier: np.ndarray
    llm_actioned: np.ndarray
    llm_decided: np.ndarray
    llm_score: np.ndarray

    def part(self, mask: np.ndarray) -> Items:
        return Items(self.violating[mask], self.classifier[mask], self.llm_actioned[mask], self.llm_decided[mask],
                     self.llm_score[mask])


@dataclass(frozen=True)
class Costs:
    llm_per_item_usd: float
    human_per_item_usd: float


@dataclass(frozen=True)
class Routed:
    """Per item: the final decision (actioned), decided, and whether the LLM and a human saw it."""

    actioned: np.ndarray
    decided: np.ndarray
    llm: np.ndarray
    human: np.ndarray


@dataclass(frozen=True)
class Outcome:
    design: str
    settings: dict[str, float]
    over_enforcement: Rate
    leakage: Rate
    human_share: tuple[float, float, float]  # value, low, high
    cost_per_1k_usd: tuple[float, float, float]
    meets_gates: bool


Design = Callable[[Items, dict[str, float]], Routed]


def classifier_alone(items: Items, s: dict[str, float]) -> Routed:
    none = np.zeros(len(items.violating), dtype=bool)
    return Routed(items.classifier >= s["threshold"], ~none, none, none)


def llm_alone(items: Items, s: dict[str, float]) -> Routed:
    none = np.zeros(len(items.violating), dtype=bool)
    return Routed(items.llm_actioned, items.llm_decided, ~none, none)


def classifier_then_llm(items: Items, s: dict[str, float]) -> Routed:
    band = (items.classifier >= s["low"]) & (items.classifier < s["high"])
    actioned = np.where(band, items.llm_actioned, items.classifier >= s["high"])
    return Routed(actioned, ~band | items.llm_decided, band, np.zeros_like(band))


def classifier_human(items: Items, s: dict[str, float]) -> Routed:
    band = (items.classifier >= s["low"]) & (items.classifier < s["high"])
    actioned = np.where(band, items.violating, items.classifier >= s["high"])
    return Routed(actioned, np.ones_like(band), np.zeros_like(band), band)


def classifier_llm_human(items: Items, s: dict[str, float]) -> Routed:
    band = (items.classifier >= s["low"]) & (items.classifier < s["high"])
    unsure = band & (~items.llm_decided | ((items.llm_score >= s["llm_low"]) & (items.llm_score < s["llm_high"])))
    actioned = np.where(unsure, items.violating, np.where(band, items.llm_actioned, items.classifier >= s["high"]))
    return Routed(actioned, np.ones_like(band), band, unsure)


def llm_human(items: Items, s: dict[str, float]) -> Routed:
    unsure = ~items.llm_decided | ((items.llm_score >= s["llm_low"]) & (items.llm_score < s["llm_high"]))
    actioned = np.where(unsure, items.violating, items.llm_actioned)
    return Routed(actioned, np.ones_like(unsure), np.ones_like(unsure), unsure)


# name: (rule, needs classifier scores, needs LLM scores, routes it can send an item on: 0 classifier
# only, 1 LLM, 2 human, 3 LLM then human)
DESIGNS: dict[str, tuple[Design, bool, bool, tuple[int, ...]]] = {
    "classifier alone": (classifier_alone, True, False, (0,)),
    "LLM alone": (llm_alone, False, False, (1,)),
    "classifier, then LLM on its uncertain band": (classifier_then_llm, True, False, (0, 1)),
    "classifier, then human review on its uncertain band": (classifier_human, True, False, (0, 2)),
    "classifier, then LLM on its band, then human review on the LLM's uncertain band":
        (classifier_llm_human, True, True, (0, 1, 3)),
    "LLM, then human review on its uncertain band": (llm_human, False, True, (1, 3)),
}


def _rates(items: Items, routed: Routed) -> tuple[Rate, Rate]:
    benign = ~items.violating & routed.decided
    violating = items.violating & routed.decided
    return (wilson(int((routed.actioned & benign).sum()), int(benign.sum())),
            wilson(int((~routed.actioned & violating).sum()), int(violating.sum())))


def _cost(routed: Routed, costs: Costs) -> np.ndarray:
    return 1000 * (routed.llm * costs.llm_per_item_usd + routed.human * costs.human_per_item_usd)


def _meets(over: Rate, leak: Rate, gates: dict[str, float], *, whole_interval: bool) -> bool:
    for name, rate in (("over_enforcement", over), ("leakage", leak)):
        limit = gates.get(name)
        value = rate.ci_high if whole_interval else rate.rate
        if limit is not None and (value is None or value > limit):
            return False
    return True


def _candidates(design: str, threshold: float, llm_threshold: float) -> list[dict[str, float]]:
    if design == "classifier alone":
        return [{"threshold": threshold}]
    if design == "LLM alone":
        return [{}]
    out = []
    for w in WIDTHS:
        for lw in (WIDTHS if "LLM's" in design or design.startswith("LLM, then") else (0.0,)):
            settings = {"low": threshold - w, "high": threshold + w} if design.startswith("classifier") else {}
            if lw:
                settings |= {"llm_low": llm_threshold - lw, "llm_high": llm_threshold + lw}
            out.append(settings)
    return out


def best_threshold(scores: np.ndarray, violating: np.ndarray) -> float:
    """The score threshold with the fewest over-enforcement + leakage (balanced errors) on these items."""
    grid = np.unique(np.quantile(scores[np.isfinite(scores)], np.linspace(0.01, 0.99, 99)))
    benign = max(int((~violating).sum()), 1)
    bad = max(int(violating.sum()), 1)
    errors = [((scores >= t) & ~violating).sum() / benign + ((scores < t) & violating).sum() / bad for t in grid]
    return float(grid[int(np.argmin(errors))]) if len(grid) else 0.5


def compare(dev: Items, held: Items, costs: Costs, gates: dict[str, float]) -> tuple[list[Outcome], dict[str, str]]:
    """Each design's settings chosen on `dev` (with gates, the cheapest meeting their point targets, else
    the cheapest; without, the fewest balanced errors), its outcome on `held`; and the designs that
    cannot be evaluated, with why."""
    has_classifier = bool(np.isfinite(dev.classifier).any())
    has_llm_scores = bool(np.isfinite(dev.llm_score).any())
    threshold = best_threshold(dev.classifier, dev.violating) if has_classifier else 0.5
    llm_threshold = best_threshold(dev.llm_score, dev.violating) if has_llm_scores else 0.5
    outcomes, skipped = [], {}
    rng = np.random.default_rng(SEED)
    for name, (rule, needs_classifier, needs_llm_scores, routes) in DESIGNS.items():
        if needs_classifier and not has_classifier:
            skipped[name] = "the run has no classifier with scores"
            continue
        if needs_llm_scores and not has_llm_scores:
            skipped[name] = "the LLM reviewer gives no scores, so its uncertain band is unknown"
            continue

        def dev_key(settings: dict[str, float], rule: Design = rule) -> tuple[bool, float, float]:
            routed = rule(dev, settings)
            over, leak = _rates(dev, routed)
            errors = (over.rate or 0.0) + (leak.rate or 0.0)
            cost = float(_cost(routed, costs).mean())
            # With gates: the cheapest setting meeting them; without: the fewest errors, then the cheapest.
            if gates:
                return (not _meets(over, leak, gates, whole_interval=False), cost, errors)
            return (False, errors, cost)

        settings = min(_candidates(name, threshold, llm_threshold), key=dev_key)
        routed = rule(held, settings)
        over, leak = _rates(held, routed)
        outcomes.append(Outcome(name, settings, over, leak, *_route_intervals(routed, routes, costs, rng),
                                meets_gates=_meets(over, leak, gates, whole_interval=True)))
    return outcomes, skipped


def _route_intervals(routed: Routed, routes: tuple[int, ...], costs: Costs,
                     rng: np.random.Generator) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Human share and cost per 1,000 items: value and the Jeffreys-Dirichlet interval over the routes
    the design can take (a route it cannot take gets no prior mass)."""
    route = routed.llm.astype(int) + 2 * routed.human.astype(int)
    counts = np.bincount(route, minlength=4).astype(float)
    prior = np.zeros(4)
    prior[list(routes)] = 0.5
    shares = np.zeros((DRAWS, 4))
    shares[:, list(routes)] = rng.dirichlet((counts + prior)[list(routes)], size=DRAWS) if len(routes) > 1 else 1.0
    human = shares[:, 2] + shares[:, 3]
    unit = np.array([0.0, costs.llm_per_item_usd, costs.human_per_item_usd,
                     costs.llm_per_item_usd + costs.human_per_item_usd]) * 1000
    cost = shares @ unit
    n = max(len(route), 1)
    human_low, human_high = np.quantile(human, [0.025, 0.975])
    cost_low, cost_high = np.quantile(cost, [0.025, 0.975])
    return ((float(routed.human.sum() / n), float(human_low), float(human_high)),
            (float(_cost(routed, costs).sum() / n), float(cost_low), float(cost_high)))


def cheapest(outcomes: list[Outcome]) -> Outcome | None:
    """The cheapest design whose whole intervals meet the gates; None when none does."""
    meeting = [o for o in outcomes if o.meets_gates]
    return min(meeting, key=lambda o: o.cost_per_1k_usd[0]) if meeting else None

"""Drift: did a reviewer's verdicts on the same canary items change since its previous run?

The decisions of two runs on the same items form a paired 2x2 table; the exact McNemar test
(statsmodels) asks whether the items that flipped lean one way more than chance allows
(McNemar 1947; docs/stability.md). Its false-alarm rate under no drift is at most `alpha`."""

from __future__ import annotations

from collections.abc import Mapping

from statsmodels.stats.contingency_tables import mcnemar

from harness.record.drift import CanaryDrift, CanaryRun
from harness.verdicts import ACTIONED, ALLOWED

ALPHA = 0.05
DECIDED = (ACTIONED.value, ALLOWED.value)


def mcnemar_exact(newly_actioned: int, newly_allowed: int) -> float:
    """Two-sided exact McNemar p of the discordant counts; 1.0 when nothing flipped."""
    if newly_actioned + newly_allowed == 0:
        return 1.0
    return float(mcnemar([[0, newly_allowed], [newly_actioned, 0]], exact=True).pvalue)


def canary_drift(current: Mapping[str, str], gold: Mapping[str, bool], previous: CanaryRun | None, *,
                 reviewer: str, alpha: float = ALPHA) -> CanaryDrift:
    """The drift block of one reviewer: `current` and `previous.decisions` map item id -> decision,
    `gold` item id -> violating."""
    decided = {i: d for i, d in current.items() if d in DECIDED}
    right = [(d == ACTIONED.value) == gold[i] for i, d in decided.items() if i in gold]
    accuracy = sum(right) / len(right) if right else None
    if previous is None:
        return CanaryDrift(status="no_previous", canaries=len(decided), accuracy=accuracy, alpha=alpha)
    before = {i: d for i, d in previous.decisions.items() if d in DECIDED}
    paired = sorted(set(before) & set(decided))
    flipped = [i for i in paired if before[i] != decided[i]]
    up = sum(decided[i] == ACTIONED.value for i in flipped)
    down = len(flipped) - up
    if not paired:
        return CanaryDrift(status="no_data", canaries=len(decided), previous_run=previous.run,
                           previous_created_at=previous.created_at, accuracy=accuracy, alpha=alpha)
    p = mcnemar_exact(up, down)
    drifted = p < alpha
    warning = (f"drift: {reviewer}'s verdicts on {len(paired)} canary items changed since run '{previous.run}' "
               f"of {previous.created_at} "
               f"({up} newly actioned, {down} newly allowed; exact McNemar p = {p:.3g}); the judge may have "
               "changed behind its name") if drifted else None
    return CanaryDrift(status="drift" if drifted else "none", canaries=len(decided),
                       previous_run=previous.run, previous_created_at=previous.created_at, paired=len(paired),
                       newly_actioned=up, newly_allowed=down,
                       agreement=(len(paired) - len(flipped)) / len(paired) if paired else None,
                       p_value=p, alpha=alpha, flipped_item_ids=flipped, accuracy=accuracy, warning=warning)

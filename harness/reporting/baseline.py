"""Candidate vs baseline: paired rate changes, flipped verdicts and the policy text diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from harness.labels import BENIGN
from harness.record.metrics import Flip as FlipEntry
from harness.record.metrics import Metrics, PairedChange, PairedComparison, PairedCounts
from harness.reporting.fmt import Clipped, clip, number, p_text, p_value, percent, short, signed_percent, significant
from harness.verdicts import ABSTAINED, ACTIONED

FLIP_LIMIT = 60
SLICE_ROW_LIMIT = 15
CHANGES = (("over-enforcement", "over_enforcement_change"), ("leakage", "leakage_change"))


@dataclass(frozen=True)
class ChangeRow:
    metric: str
    before: str
    after: str
    change: str
    interval: str
    p: str
    significant: bool
    n: int
    # "better" / "worse" for a significant change (both rates are harms, so down is better)
    direction: str = ""
    # Holm-adjusted over every slice change of the comparison (per-slice rows only)
    p_adjusted: str = ""
    ci_method: str = ""


@dataclass(frozen=True)
class SliceChange:
    column: str
    value: str
    change: ChangeRow


@dataclass(frozen=True)
class Flip:
    item_id: str
    text: Clipped
    gold: str
    before: str
    after: str
    effect: str
    rationale_before: Clipped
    rationale_after: Clipped
    slices: list[tuple[str, str]]


@dataclass(frozen=True)
class ComparisonView:
    reviewer: str
    changes: list[ChangeRow]
    counts: list[tuple[str, int, int]]
    accuracy_p: str
    paired: int
    unpaired: str
    flips: list[Flip]
    flips_total: int
    slice_changes: list[SliceChange]
    slice_hidden: int
    # e.g. "Holm over 12 tests"
    adjustment: str

    @property
    def adjusted(self) -> bool:
        """Whether the per-slice p-values come adjusted (runs recorded before that have only raw p)."""
        return any(s.change.p_adjusted for s in self.slice_changes)


@dataclass(frozen=True)
class DiffRow:
    kind: str
    left_no: str
    left: str
    right_no: str
    right: str


def comparisons(metrics: Metrics, slices: list[str]) -> list[ComparisonView]:
    return [comparison_view(name, comp, slices) for name, comp in metrics.comparison.items()]


def comparison_view(reviewer: str, comp: PairedComparison, slices: list[str]) -> ComparisonView:
    changes = [change_row(label, _change(comp, key)) for label, key in CHANGES]
    counts = [(label, by_gold.benign, by_gold.violating)
              for label, by_gold in (("fixed", comp.fixed), ("broken", comp.broken),
                                     ("newly actioned", comp.newly_actioned), ("newly allowed", comp.newly_allowed))]
    flips = sorted((flip(f, slices) for f in comp.flips), key=_flip_order)
    only_b, only_a = comp.only_in_before, comp.only_in_after
    unpaired = f"{only_b} items judged only under the baseline, {only_a} only under the candidate" if only_a or only_b else ""
    slice_changes = slice_change_rows(comp.slices)
    adjustment = comp.slice_adjustment
    return ComparisonView(reviewer=reviewer, changes=changes, counts=counts,
                          accuracy_p=p_text(comp.accuracy_mcnemar_p),
                          paired=comp.paired_decided, unpaired=unpaired,
                          flips=flips[:FLIP_LIMIT], flips_total=len(flips),
                          slice_changes=slice_changes[:SLICE_ROW_LIMIT],
                          slice_hidden=max(0, len(slice_changes) - SLICE_ROW_LIMIT),
                          adjustment=f"{_method_name(adjustment.method)} over {adjustment.tests} tests")


def _change(paired: PairedCounts, key: str) -> PairedChange:
    return paired.over_enforcement_change if key == "over_enforcement_change" else paired.leakage_change


def slice_change_rows(slices: dict[str, dict[str, PairedCounts]]) -> list[SliceChange]:
    """Slice values whose rate moved, most convincing change first (adjusted p, then size)."""
    found = []
    for column, by_value in slices.items():
        for value, paired in by_value.items():
            for label, key in CHANGES:
                change = _change(paired, key)
                if change.change is None or number(change.change) in (None, 0.0):
                    continue
                p = number(change.p_adjusted)
                rank = (1.0 if p is None else p, -abs(change.change), str(column), str(value))
                found.append((rank, SliceChange(short(column, 40), short(value, 60),
                                                change_row(label, change, per_slice=True))))
    return [row for _, row in sorted(found, key=lambda pair: pair[0])]


def change_row(label: str, change: PairedChange, *, per_slice: bool = False) -> ChangeRow:
    if change.change is None:
        return ChangeRow(label, percent(None), percent(None), signed_percent(None), "", p_value(None), False,
                         change.n)
    # A per-slice change is judged on its adjusted p: among many slices some move by chance.
    is_significant = significant(change.p_adjusted if per_slice else change.p_value)
    direction = ("worse" if change.change > 0 else "better") if is_significant else ""
    return ChangeRow(label, percent(change.before), percent(change.after), signed_percent(change.change),
                     f"[{signed_percent(change.ci_low)}, {signed_percent(change.ci_high)}]",
                     p_value(change.p_value), is_significant, change.n, direction,
                     p_value(change.p_adjusted) if per_slice else "", change.ci_method)


def _method_name(method: str) -> str:
    return {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}.get(str(method), str(method))


def interval_method(views: list[ComparisonView]) -> str:
    """The paired-interval method named by the metrics (one per run), for the footnote."""
    return next((x.ci_method for v in views for x in v.changes if x.ci_method), "")


def flip(row: FlipEntry, slices: list[str]) -> Flip:
    gold, before, after = str(row.gold), row.decision_before, row.decision_after
    return Flip(item_id=short(row.item_id, 60), text=clip(row.text), gold=short(gold, 40),
                before=before, after=after, effect=_effect(gold, before, after),
                rationale_before=clip(row.rationale_before), rationale_after=clip(row.rationale_after),
                slices=[(short(c, 40), short(row.slice_value(c), 60)) for c in slices
                        if c in (row.model_extra or {})])


def _effect(gold: str, before: str, after: str) -> str:
    if ABSTAINED in (before, after):
        return "abstention"
    right = ACTIONED if gold != BENIGN else "allowed"
    return "fixed" if after == right else "broken"


def _flip_order(f: Flip) -> tuple[int, str]:
    return ({"broken": 0, "fixed": 1}.get(f.effect, 2), f.item_id)


def policy_diff(old: str, new: str) -> list[DiffRow]:
    """Side-by-side rows; the template escapes them (difflib.HtmlDiff's markup would need marking safe)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow("same", str(i + 1), a[i], str(j + 1), b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            left = (str(i + 1), a[i]) if i < i2 else ("", "")
            right = (str(j + 1), b[j]) if j < j2 else ("", "")
            kind = "changed" if left[0] and right[0] else ("removed" if left[0] else "added")
            rows.append(DiffRow(kind, left[0], left[1], right[0], right[1]))
    return rows


def unified_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    return "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=old_label,
                                          tofile=new_label, lineterm="", n=1))

"""Over-enforcement, leakage and false-action share from verdicts joined with gold labels."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.labels import BENIGN, UNKNOWN
from harness.metrics.counts import COUNT, ITEM_KEY, Cited, Groups, Labels, multiplicity, tally, with_item_keys
from harness.metrics.rates import SMALL_SAMPLE, wilson
from harness.record.metrics import CategoryRates, Rates, RelabelCandidates, RelabelItem, WithoutContested
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED


def rates(frame: pd.DataFrame) -> Rates:
    """Headline rates for one reviewer x policy; `frame` has columns gold and decision.
    Items whose gold is unknown count in `items` and abstentions only: whether acting on them
    was right is not known."""
    count = multiplicity(frame)
    return rates_from_counts([tally(m, count) for m in rate_masks(frame)])


def rate_masks(frame: pd.DataFrame) -> list[np.ndarray]:
    """The row masks whose counts make `rates`, in the order `rates_from_counts` reads them."""
    benign, violating, unknown = gold_status(frame)
    decision = Labels(frame["decision"], na="nan")
    actioned, allowed, abstained = decision.equals(ACTIONED), decision.equals(ALLOWED), decision.equals(ABSTAINED)
    decided = ~abstained
    return [np.ones(len(frame), dtype=bool), benign, violating, unknown, actioned & benign, decided & benign,
            allowed & violating, decided & violating, actioned & ~unknown, abstained]


def rates_from_counts(counts: Sequence[int]) -> Rates:
    """`Rates` from the counts of `rate_masks`, in its order."""
    items, benign, violating, unknown, wrong_actions, benign_decided, leaked, violating_decided, actions, abstained = (
        int(c) for c in counts)
    over_enforcement, leakage = wilson(wrong_actions, benign_decided), wilson(leaked, violating_decided)
    warnings = []
    for name, rate in (("over_enforcement", over_enforcement), ("leakage", leakage)):
        if rate.n == 0:
            warnings.append(f"{name}: no decided {'benign' if name == 'over_enforcement' else 'violating'} items")
        elif rate.n < SMALL_SAMPLE:
            warnings.append(f"{name}: only {rate.n} items, interval is wide")
    if unknown:
        warnings.append(f"{unknown} item{'s' if unknown != 1 else ''} with unknown gold {'are' if unknown != 1 else 'is'} left out of over-enforcement, "
                        "leakage and false-action share")
    return Rates(items=items, benign=benign, violating=violating, unknown=unknown, over_enforcement=over_enforcement,
                 leakage=leakage, false_action_share=wilson(wrong_actions, actions), abstained=abstained,
                 abstention_rate=wilson(abstained, items), warnings=warnings)


def category_rates(frame: pd.DataFrame, category_ids: list[str]) -> dict[str, CategoryRates]:
    """Per violating category: leakage among items of that gold category, over-enforcement as
    benign items actioned under that category, and right-to-action-wrong-category counts.

    Gold may be multi-label ('H;HR'): an item belongs to every category it lists. An item whose
    label for a category is unknown is left out of that category's denominators. Beside the
    benign-only over-enforcement, `category_false_positive` is the one-vs-rest view: items known
    not to be in the category (benign or other categories) actioned under it."""
    gold = Labels(frame["gold"], na="nan")
    predicted = Cited(frame["categories"])
    decision = Labels(frame["decision"], na="nan")
    benign, _, wholly_unknown = gold_status(frame)
    listed = Labels(frame["gold_unknown"], na="") if "gold_unknown" in frame else None
    decided = ~decision.equals(ABSTAINED)
    actioned = decision.equals(ACTIONED)
    allowed = decision.equals(ALLOWED)
    some_prediction = predicted.where(bool)
    count = multiplicity(frame)
    out: dict[str, CategoryRates] = {}
    for cid in category_ids:
        has_cat = predicted.where(_contains(cid))
        of_cat = gold.where(listed_in(cid))
        unknown = _unknown_for(wholly_unknown, listed, cid)
        negative = ~of_cat & ~unknown
        out[cid] = CategoryRates(
            items=tally(of_cat, count),
            unknown=tally(unknown, count),
            leakage=wilson(tally(of_cat & allowed, count), tally(of_cat & decided, count)),
            over_enforcement=wilson(tally(benign & actioned & has_cat, count), tally(benign & decided, count)),
            category_false_positive=wilson(tally(negative & actioned & has_cat, count),
                                           tally(negative & decided, count)),
            wrong_category=tally(of_cat & actioned & ~has_cat & some_prediction, count),
        )
    return out


def gold_status(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(benign, violating, unknown) masks of the overall gold status."""
    gold = Labels(frame["gold"], na="nan")
    benign, unknown = gold.equals(BENIGN), gold.equals(UNKNOWN)
    return benign, ~benign & ~unknown, unknown


def unknown_for(frame: pd.DataFrame, cid: str) -> np.ndarray:
    """Items whose gold for one category is unknown: listed in gold_unknown, or wholly unknown gold
    without a per-category list (a label mapped to 'unknown' in a single-label set)."""
    _, _, wholly = gold_status(frame)
    return _unknown_for(wholly, Labels(frame["gold_unknown"], na="") if "gold_unknown" in frame else None, cid)


def _unknown_for(wholly: np.ndarray, listed: Labels | None, cid: str) -> np.ndarray:
    if listed is None:
        return wholly
    mask: np.ndarray = (wholly & listed.equals("")) | listed.where(lambda u: cid in u.split(";"))
    return mask


def slice_rates(frame: pd.DataFrame, slices: list[str]) -> dict[str, dict[str, Rates]]:
    """Rates for every value of every slice column."""
    masks = rate_masks(frame) if slices else []
    count = multiplicity(frame) if COUNT in frame else None
    out: dict[str, dict[str, Rates]] = {}
    for column in slices:
        groups = Groups(frame[column])
        counts = groups.sums(masks, count)
        out[column] = {key: rates_from_counts(counts[i]) for i, key in enumerate(groups.keys)}
    return out


def without_contested(frame: pd.DataFrame, category_ids: list[str], slices: list[str]) -> WithoutContested | None:
    """The same rates on the items whose gold is not contested; None when no item is contested."""
    if "contested" not in frame:
        return None
    contested = frame["contested"].fillna(False).astype(bool).to_numpy()
    if not contested.any():
        return None
    # Only the columns the rates read: copying the texts of a million rows is most of the cost.
    needed = ["gold", "decision", "categories", "gold_unknown", COUNT, *slices]
    kept = frame.loc[~contested, [c for c in dict.fromkeys(needed) if c in frame]]
    return WithoutContested(**dict(rates(kept)), excluded=tally(contested, multiplicity(frame)),
                            categories=category_rates(kept, category_ids), slices=slice_rates(kept, slices))


RELABEL_LIMIT = 200


def relabel_candidates(per_item: pd.DataFrame, policy: str, limit: int = RELABEL_LIMIT) -> RelabelCandidates:
    """Items every reviewer decided, and every one against gold, under the candidate policy:
    candidates for a second look at the gold label. Contested items first, then the most
    confident disagreements (score = probability of violating, where the reviewer gives one)."""
    [per_item] = with_item_keys(per_item)
    needed = [c for c in (ITEM_KEY, "item_id", "reviewer", "gold", "decision", "score", "contested", COUNT)
              if c in per_item]
    frame = per_item.loc[(per_item["policy"] == policy) & (per_item["gold"].astype(str) != UNKNOWN), needed]
    reviewers = sorted(map(str, frame["reviewer"].unique()))
    if frame.empty:
        return RelabelCandidates(total=0, reviewers=reviewers, items=[])
    benign = frame["gold"].to_numpy() == BENIGN
    decision = frame["decision"].to_numpy()
    wrong = np.isin(decision, [ACTIONED, ALLOWED]) & ((decision == ACTIONED) == benign)
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float)
    strength = np.where(benign, score, 1.0 - score)
    marked = frame.assign(_wrong=wrong, _strength=strength, _score=score, _count=multiplicity(frame))
    votes = marked.groupby(ITEM_KEY, sort=False).agg(n=("reviewer", "nunique"), wrong=("_wrong", "all"),
                                                     strength=("_strength", "mean"), score=("_score", "mean"),
                                                     count=("_count", "first"))
    ids = votes[(votes["n"] == len(reviewers)) & votes["wrong"]]
    first = marked.drop_duplicates(ITEM_KEY).set_index(ITEM_KEY)
    contested = (first["contested"].fillna(False).astype(bool) if "contested" in first
                 else pd.Series(False, index=first.index)).reindex(ids.index)
    order = pd.DataFrame({"contested": contested, "strength": ids["strength"].fillna(0.5)})
    order = order.sort_values(["contested", "strength"], ascending=[False, False], kind="stable")
    decisions = marked.pivot_table(index=ITEM_KEY, columns="reviewer", values="decision", aggfunc="first")
    items = [RelabelItem(item_id=str(first.at[key, "item_id"]), gold=str(first.at[key, "gold"]),
                         contested=bool(order.at[key, "contested"]),
                         decisions={str(r): str(d) for r, d in decisions.loc[key].items()},
                         mean_score=_mean_score(ids.at[key, "score"]))
             for key in order.index[:limit]]
    note = "one reviewer: these are its errors, not a consensus against gold" if len(reviewers) == 1 else None
    return RelabelCandidates(total=int(ids["count"].sum()), reviewers=reviewers, items=items, note=note)


def _mean_score(value: object) -> float | None:
    """A mean-score cell: None where no reviewer gave a score."""
    if value is None or value is pd.NA or isinstance(value, pd.Timestamp) or not isinstance(value, (int, float, np.number)):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _contains(cid: str) -> Callable[[tuple[str, ...]], bool]:
    """A test of one distinct cited-categories value: does it hold category `cid`."""
    return lambda value: cid in value


def listed_in(cid: str) -> Callable[[str], bool]:
    """A test of one distinct multi-label gold value (`;`-joined category ids): is `cid` one of them."""
    return lambda value: cid in value.split(";")

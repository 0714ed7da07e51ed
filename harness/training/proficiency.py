"""`proficiency`: grade a cohort's answers to a quiz: rates with intervals, certification, weaknesses."""

from __future__ import annotations

import datetime as dt
import math

import krippendorff
import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.multitest import multipletests

from harness.labels import BENIGN
from harness.metrics.planning import items_for_margin
from harness.metrics.rates import wilson
from harness.record.proficiency import (
    Certification,
    Cohort,
    HardItem,
    HeatCell,
    Proficiency,
    QuizInfo,
    RateCI,
    ReviewerGrade,
    Weakness,
    WrongItem,
)
from harness.reporting.links import docs_url
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, split_list

DEFAULT_PASS, DEFAULT_MAX_SKIP, ALPHA = 0.9, 0.1, 0.05
HARD_LIMIT = 20
WEAKNESS_TEST = "exact McNemar (one-sided) against the majority of the other reviewers on the same items"


def grade(info: QuizInfo, key: pd.DataFrame, answers: pd.DataFrame, *, pass_mark: float = DEFAULT_PASS,
          max_skip: float = DEFAULT_MAX_SKIP, texts: dict[str, str] | None = None, answers_path: str = "",
          key_path: str = "") -> Proficiency:
    """`answers` is `answer_table`'s output: one row per reviewer x key item, skips as `abstained`."""
    frame = answers.merge(key, on="id", how="left")
    frame["answered"] = frame["decision"] != ABSTAINED
    frame["violating"] = frame["gold"] != BENIGN
    frame["wrong"] = frame["answered"] & ((frame["decision"] == ACTIONED) != frame["violating"])
    reviewers = sorted(frame["reviewer"].unique())
    majority = _others_majority(frame, reviewers)
    grades = [_grade_one(frame[frame["reviewer"] == r], r, info, pass_mark, max_skip, majority.get(r))
              for r in reviewers]
    return Proficiency(quiz=info, answers=answers_path, key=key_path, pass_mark=pass_mark, max_skip=max_skip,
                       created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       reviewers=grades, cohort=_cohort(frame, reviewers, grades, texts or {}))


def certify(correct: int, answered: int, pass_mark: float) -> Certification:
    """Certified when the accuracy interval's lower bound reaches the pass mark, not certified when
    its upper bound is below it; otherwise the planner says how many more answered items decide it."""
    acc = wilson(correct, answered)
    if acc.ci_low is not None and acc.ci_low >= pass_mark:
        return Certification(status="certified", pass_mark=pass_mark)
    if acc.ci_high is not None and acc.ci_high < pass_mark:
        return Certification(status="not certified", pass_mark=pass_mark)
    rate = acc.rate if acc.rate is not None else pass_mark
    margin = abs(rate - pass_mark)
    if margin <= 0 or margin >= 1:
        return Certification(status="needs more items", pass_mark=pass_mark,
                             note="accuracy sits on the pass mark: no number of items at this accuracy decides it")
    more = max(1, items_for_margin(rate, margin) - answered)
    return Certification(status="needs more items", pass_mark=pass_mark, more_items=more,
                         note=f"about {more} more answered items at {rate:.0%} accuracy would decide it")


def _rate(k: int, n: int) -> RateCI:
    return RateCI(**dict(wilson(int(k), int(n))))


def _grade_one(rows: pd.DataFrame, reviewer: str, info: QuizInfo, pass_mark: float, max_skip: float,
               majority: pd.Series | None) -> ReviewerGrade:
    done = rows[rows["answered"]]
    benign, violating, actioned = done[~done["violating"]], done[done["violating"]], done[done["decision"] == ACTIONED]
    skipped = int((~rows["answered"]).sum())
    skip_rate = skipped / len(rows) if len(rows) else 0.0
    correct = int(len(done) - done["wrong"].sum())
    weaknesses, tests = _weaknesses(rows, info, majority) if majority is not None else ([], 0)
    return ReviewerGrade(
        reviewer=reviewer, answered=len(done), skipped=skipped, skip_rate=skip_rate, skip_flag=skip_rate > max_skip,
        accuracy=_rate(correct, len(done)),
        over_enforcement=_rate(int((benign["decision"] == ACTIONED).sum()), len(benign)),
        leakage=_rate(int((violating["decision"] == ALLOWED).sum()), len(violating)),
        false_action_share=_rate(int((~actioned["violating"]).sum()), len(actioned)),
        certification=certify(correct, len(done), pass_mark), weaknesses=weaknesses, tests=tests)


def _others_majority(frame: pd.DataFrame, reviewers: list[str]) -> dict[str, pd.Series]:
    """Per reviewer, per item: whether the majority of the *other* reviewers who answered it was wrong
    (NaN on ties or when no other answered), so a reviewer is never compared with themselves."""
    answered = frame.pivot(index="id", columns="reviewer", values="answered").astype(bool)
    wrong = frame.pivot(index="id", columns="reviewer", values="wrong").astype(bool)
    out: dict[str, pd.Series] = {}
    if len(reviewers) < 2:
        return out
    for r in reviewers:
        others = [o for o in reviewers if o != r]
        n = answered[others].sum(axis=1)
        k = (wrong[others] & answered[others]).sum(axis=1)
        share = (k / n.where(n > 0)).astype(float)
        out[r] = pd.Series(np.where(share.isna() | (share == 0.5), np.nan, (share > 0.5).astype(float)),
                           index=share.index)
    return out


def _groups(rows: pd.DataFrame, info: QuizInfo) -> list[tuple[str, str, str, np.ndarray]]:
    groups = [("slice", column, value, (rows[column] == value).to_numpy())
              for column in info.slices if column in rows for value in sorted(rows[column].unique()) if value]
    rules = rows["rule_ids"].map(split_list)
    for rule in sorted({r for parts in rules for r in parts}):
        groups.append(("rule", "rule_ids", rule, rules.map(lambda parts, rule=rule: rule in parts).to_numpy()))
    return groups


def _weaknesses(rows: pd.DataFrame, info: QuizInfo, majority: pd.Series) -> tuple[list[Weakness], int]:
    """Slices and rules where the reviewer is wrong more often than the others' majority on the same
    items: paired, so McNemar's exact test on the discordant items; Holm across the reviewer's tests."""
    rows = rows.reset_index(drop=True)
    others_wrong = rows["id"].map(majority).to_numpy(dtype=float)
    paired = rows["answered"].to_numpy() & ~np.isnan(others_wrong)
    mine = rows["wrong"].to_numpy()
    found: list[tuple[str, str, str, np.ndarray, float]] = []
    for kind, column, value, mask in _groups(rows, info):
        use = mask & paired
        worse = int((use & mine & (others_wrong == 0)).sum())
        better = int((use & ~mine & (others_wrong == 1)).sum())
        if worse + better == 0:
            continue  # no discordant item: nothing to test
        p = float(binomtest(worse, worse + better, 0.5, alternative="greater").pvalue)
        found.append((kind, column, value, use, p))
    if not found:
        return [], 0
    reject, adjusted, _, _ = multipletests([f[4] for f in found], alpha=ALPHA, method="holm")
    out = []
    for (kind, column, value, use, p), hit, p_holm in zip(found, reject, adjusted):
        if not hit:
            continue
        sub = rows[use]
        wrong = sub[sub["wrong"]]
        out.append(Weakness(
            kind=kind, column=column, value=value, items=int(use.sum()),
            error_rate=_rate(int(sub["wrong"].sum()), len(sub)),
            cohort_error_rate=_rate(int(np.nansum(others_wrong[use])), int(use.sum())),
            test=WEAKNESS_TEST, p_value=p, p_holm=float(p_holm),
            wrong=[WrongItem(item_id=w.id, gold=w.gold, decision=w.decision, rule_ids=w.rule_ids)
                   for w in wrong.itertuples()]))
    return sorted(out, key=lambda w: w.p_holm), len(found)


def _cohort(frame: pd.DataFrame, reviewers: list[str], grades: list[ReviewerGrade],
            texts: dict[str, str]) -> Cohort:
    notes: list[str] = []
    answered = frame.pivot(index="id", columns="reviewer", values="answered").astype(bool)
    actioned = frame.pivot(index="id", columns="reviewer", values="decision") == ACTIONED
    ratings = np.where(answered, actioned.astype(float), np.nan).T  # reviewers x items
    alpha = _alpha(ratings, notes)
    complete = answered.all(axis=1).to_numpy()
    kappa = None
    if len(reviewers) >= 2 and complete.any():
        table, _ = aggregate_raters(actioned.to_numpy()[complete].astype(int), n_cat=2)
        value = float(fleiss_kappa(table, method="fleiss"))
        kappa = value if math.isfinite(value) else None
    if kappa is None:
        notes.append("Fleiss' kappa: needs two or more reviewers who all answered some items, with more than "
                     "one answer given; undefined")
    per_item = frame.groupby("id", sort=False).agg(wrong=("wrong", "sum"), answered=("answered", "sum"),
                                                  gold=("gold", "first"), rule_ids=("rule_ids", "first"))
    hard = per_item[(per_item["answered"] > 0) & (per_item["wrong"] * 2 >= per_item["answered"])
                    & (per_item["wrong"] > 0)]
    hard = hard.assign(share=hard["wrong"] / hard["answered"]).sort_values(
        ["share", "wrong"], ascending=False, kind="stable")
    rule_ids = sorted({r for cell in frame["rule_ids"] for r in split_list(cell)})
    heat = []
    for r in reviewers:
        rows = frame[(frame["reviewer"] == r) & frame["answered"]]
        for rule in rule_ids:
            sub = rows[rows["rule_ids"].map(lambda cell, rule=rule: rule in split_list(cell))]
            heat.append(HeatCell(reviewer=r, rule_id=rule, wrong=int(sub["wrong"].sum()), answered=len(sub),
                                 error_rate=float(sub["wrong"].mean()) if len(sub) else None))
    if not rule_ids:
        notes.append(f"the answer key has no rule ids (see {docs_url('training.md')}): no per-rule heat map or "
                     "rule weaknesses")
    if len(reviewers) < 2:
        notes.append("one reviewer: no cohort to compare with, so no weaknesses, agreement or consensus items")
    certified = sum(g.certification.status == "certified" for g in grades)
    return Cohort(
        reviewers=len(reviewers), krippendorff_alpha=alpha, fleiss_kappa=kappa, fleiss_items=int(complete.sum()),
        hard_items=[HardItem(item_id=str(i), gold=str(row.gold), rule_ids=str(row.rule_ids), wrong=int(row.wrong),
                             answered=int(row.answered),
                             all_wrong=bool(row.answered == len(reviewers) and row.wrong == row.answered),
                             text=texts.get(str(i), "")) for i, row in hard.head(HARD_LIMIT).iterrows()],
        coverage=_rate(certified, len(grades)), rule_ids=rule_ids, heat_map=heat, notes=notes)


def _alpha(ratings: np.ndarray, notes: list[str]) -> float | None:
    """Nominal Krippendorff's alpha over reviewers x items; undefined without pairable variation."""
    pairable = (~np.isnan(ratings)).sum(axis=0) >= 2
    rated = ratings[:, pairable]
    if ratings.shape[0] < 2 or not pairable.any() or len(set(rated[~np.isnan(rated)].tolist())) < 2:
        notes.append("Krippendorff's alpha: fewer than two items answered twice, or one answer throughout; undefined")
        return None
    value = float(krippendorff.alpha(reliability_data=rated, level_of_measurement="nominal"))
    return value if math.isfinite(value) else None

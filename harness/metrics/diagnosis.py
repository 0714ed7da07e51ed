"""`diagnose`: a run's errors as failure clusters, per reviewer and policy version.

Over-enforcement (actioned benign items) and leakage (allowed violating items) are diagnosed
separately, each grouped three ways: by the rule id the verdict cited, by slice value, and by
text similarity (TF-IDF + k-means). Every cluster says how large it is, which share of that error
kind it holds, which slice values and rule ids are over-represented in it compared with all decided
items of the same gold group (one-sided hypergeometric test), and which items show it best (those
nearest the cluster's TF-IDF centroid)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from harness.labels import BENIGN, UNKNOWN
from harness.record.diagnosis import (
    Cluster,
    Diagnosis,
    ErrorKind,
    ErrorKindDiagnosis,
    Grouping,
    OverRepresented,
    ReviewerDiagnosis,
)

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from harness.record import RunRecord

from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED, as_list

EXEMPLARS = 5
MAX_TEXT_CLUSTERS = 8
OVER_REPRESENTED_P = 0.05
NO_RULE = "(no rule cited)"


@dataclass(frozen=True)
class RunView:
    """The parts of a stored run diagnosis reads, so the record's own shape can change beneath it."""

    name: str
    out_dir: str
    verdicts: pd.DataFrame
    candidate: str
    baseline: str | None
    slices: list[str]


def run_view(record: RunRecord) -> RunView:
    """The parts of a stored run the clusters are computed from."""
    return RunView(name=record.name, out_dir=record.out_dir, verdicts=record.verdicts,
                   candidate=record.candidate, baseline=record.baseline, slices=list(record.evalset.slices))


def diagnose(view: RunView) -> Diagnosis:
    from harness.metrics.samples import majority

    verdicts = majority(view.verdicts) if not view.verdicts.empty else view.verdicts
    slices = [s for s in view.slices if s in verdicts.columns]
    groups: list[ReviewerDiagnosis] = []
    order = [view.candidate, *([view.baseline] if view.baseline else [])]
    for (reviewer, policy), frame in sorted(verdicts.groupby(["reviewer", "policy"], sort=False),
                                            key=lambda g: (_rank(str(g[0][1]), order), str(g[0][0]))):
        frame = frame.reset_index(drop=True)
        kinds = [diagnose_kind(frame, kind, slices) for kind in ("over_enforcement", "leakage")]
        groups.append(ReviewerDiagnosis(reviewer=str(reviewer), policy=str(policy), kinds=kinds))
    return Diagnosis(run=view.name, run_dir=view.out_dir, candidate=view.candidate, baseline=view.baseline,
                     slices=slices, groups=groups)


def item_texts(frame: pd.DataFrame) -> dict[str, str]:
    """item id -> text, for the prompts that show exemplars."""
    if "text" not in frame.columns:
        return {}
    return dict(zip(frame["item_id"].astype(str), frame["text"].fillna("").astype(str)))


def _rank(policy: str, order: list[str]) -> int:
    return order.index(policy) if policy in order else len(order)


def diagnose_kind(frame: pd.DataFrame, kind: ErrorKind, slices: list[str]) -> ErrorKindDiagnosis:
    """Clusters of one error kind for one reviewer x policy (one row per item in `frame`)."""
    gold = frame["gold"].astype(str)
    in_group = (gold == BENIGN) if kind == "over_enforcement" else (gold != BENIGN) & (gold != UNKNOWN)
    reference = frame[in_group & (frame["decision"] != ABSTAINED)].reset_index(drop=True)
    wrong = ACTIONED if kind == "over_enforcement" else ALLOWED
    errors = reference[reference["decision"] == wrong].reset_index(drop=True)
    if errors.empty:
        return ErrorKindDiagnosis(kind=kind, errors=0, decided=len(reference), by_rule=[], by_slice=[], by_text=[])
    features = _Features(reference, slices)
    vectors = _tfidf(errors["text"].fillna("").astype(str).tolist())
    ids = errors["item_id"].astype(str).to_numpy()

    def cluster(by: Grouping, key: str, members: np.ndarray, rate: float | None = None,
                top_terms: list[str] | None = None) -> Cluster:
        # The value that defines a rule or slice cluster is over-represented in it by construction.
        over = [o for o in features.over_represented(ids[members]) if o.value != key]
        return Cluster(by=by, key=key, size=int(members.sum()), share=float(members.mean()), rate=rate,
                       top_terms=top_terms or [], over_represented=over,
                       exemplars=_exemplars(vectors.matrix, members, ids))

    rules = [as_list(v) for v in errors["rule_ids"]]
    by_rule: list[Cluster] = []
    if any(rules):  # a classifier cites no rules: a single '(no rule cited)' group would say nothing
        cited = sorted({r for rs in rules for r in rs})
        for rule in [*cited, NO_RULE]:
            members = np.array([(rule in rs) if rule != NO_RULE else not rs for rs in rules])
            if members.any():
                by_rule.append(cluster("rule", rule, members))
    by_slice: list[Cluster] = []
    for column in slices:
        values = errors[column].astype(str).to_numpy()
        for value in pd.unique(values):
            members = values == value
            in_slice = int((reference[column].astype(str) == value).sum())
            by_slice.append(cluster("slice", f"{column}={value}", members, rate=members.sum() / in_slice))
    text_groups = sorted(_text_clusters(vectors), key=lambda g: (-int(g[0].sum()), ids[g[0]].min()))
    by_text = [cluster("text", f"text-{n + 1}", labels, top_terms=terms)
               for n, (labels, terms) in enumerate(text_groups)]
    for clusters in (by_rule, by_slice):
        clusters.sort(key=lambda c: (-c.size, c.key))
    return ErrorKindDiagnosis(kind=kind, errors=len(errors), decided=len(reference), by_rule=by_rule,
                              by_slice=by_slice, by_text=by_text)


class _Features:
    """Slice values and cited rule ids of the reference items, for over-representation tests."""

    def __init__(self, reference: pd.DataFrame, slices: list[str]) -> None:
        self.ids = reference["item_id"].astype(str).to_numpy()
        self.index = {item: n for n, item in enumerate(self.ids)}
        sets: list[set[tuple[Literal["slice", "rule"], str]]] = []
        for _, row in reference.iterrows():
            values: set[tuple[Literal["slice", "rule"], str]] = {("slice", f"{c}={row[c]}") for c in slices}
            values |= {("rule", r) for r in as_list(row["rule_ids"])}
            sets.append(values)
        self.sets = sets

    def over_represented(self, members: Iterable[str]) -> list[OverRepresented]:
        from scipy.stats import hypergeom

        rows = [self.sets[self.index[m]] for m in members]
        total, drawn = len(self.sets), len(rows)
        found: list[OverRepresented] = []
        for feature in sorted({f for row in rows for f in row}):
            k = sum(feature in row for row in rows)
            population = sum(feature in row for row in self.sets)
            reference_share, cluster_share = population / total, k / drawn
            if cluster_share <= reference_share:
                continue
            p = float(hypergeom.sf(k - 1, total, population, drawn))
            if p < OVER_REPRESENTED_P:
                found.append(OverRepresented(kind=feature[0], value=feature[1], in_cluster=k,
                                             cluster_share=cluster_share, reference_share=reference_share,
                                             lift=cluster_share / reference_share, p_value=p))
        return sorted(found, key=lambda o: (o.p_value, -o.lift, o.value))


@dataclass(frozen=True)
class _Vectors:
    matrix: csr_matrix  # rows L2-normalised
    terms: np.ndarray


def _tfidf(texts: list[str]) -> _Vectors:
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Words and word pairs, so a cluster's top terms read as phrases; English function words would
    # otherwise top every cluster. A text of no words stays a zero row.
    for stop_words in ("english", None):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=20_000,
                                     stop_words=stop_words)
        try:
            return _Vectors(vectorizer.fit_transform(texts), vectorizer.get_feature_names_out())
        except ValueError:  # no word left (only stop words, emoji, empty texts)
            continue
    from scipy.sparse import csr_matrix

    return _Vectors(csr_matrix((len(texts), 1)), np.array([""]))


def _text_clusters(vectors: _Vectors) -> list[tuple[np.ndarray, list[str]]]:
    """(member mask, top terms) per cluster; k chosen by the best cosine silhouette, seeded."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    matrix = vectors.matrix
    n = matrix.shape[0]
    distinct = len({tuple(row.indices) + tuple(np.round(row.data, 6)) for row in matrix})
    if n < 4 or distinct < 3:
        return [(np.ones(n, dtype=bool), _top_terms(vectors, np.ones(n, dtype=bool)))]
    best: tuple[float, np.ndarray] | None = None
    # Silhouette tends to grow with k on sparse text, so k is also held to about sqrt(n).
    for k in range(2, min(MAX_TEXT_CLUSTERS, max(2, int(np.sqrt(n))), distinct - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(matrix)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(matrix, labels, metric="cosine"))
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    if best is None:
        return [(np.ones(n, dtype=bool), _top_terms(vectors, np.ones(n, dtype=bool)))]
    labels = best[1]
    return [(labels == label, _top_terms(vectors, labels == label)) for label in sorted(set(labels))]


def _top_terms(vectors: _Vectors, members: np.ndarray, n: int = 5) -> list[str]:
    centroid = np.asarray(vectors.matrix[members].mean(axis=0)).ravel()
    order = np.argsort(-centroid, kind="stable")[:n]
    return [str(vectors.terms[i]) for i in order if centroid[i] > 0]


def _exemplars(matrix: object, members: np.ndarray, ids: np.ndarray) -> list[str]:
    """Up to five members nearest the members' centroid (cosine), ties by item id."""
    rows = matrix[members]  # type: ignore[index]
    centroid = np.asarray(rows.mean(axis=0)).ravel()
    norm = np.linalg.norm(centroid)
    similarity = rows @ (centroid / norm) if norm else np.zeros(rows.shape[0])
    similarity = np.asarray(similarity).ravel()
    member_ids = ids[members]
    order = sorted(range(len(member_ids)), key=lambda i: (-round(float(similarity[i]), 9), member_ids[i]))
    return [str(member_ids[i]) for i in order[:EXEMPLARS]]

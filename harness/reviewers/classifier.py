"""Classifier reviewer: a scikit-learn text pipeline, trained, cross-fitted or loaded from MLflow.

The fitting is CPU work on a worker thread, which the event loop cannot interrupt: it is done in
short steps (features, then the model, per fold; predictions in chunks) and a cancelled review
(Ctrl-C) stops at the next step, within seconds rather than when the whole cross-fit ends."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline

from harness._util.hashing import sha256_json
from harness._util.progress import duration, say
from harness.config import ClassifierReviewerConfig, resolve_path
from harness.errors import HarnessError
from harness.evalset import GOLD, GOLD_UNKNOWN, TEXT, load_evalset
from harness.labels import BENIGN, UNKNOWN
from harness.policy import Policy
from harness.record import ClassifierParams
from harness.record.metrics import Usage
from harness.verdicts import ACTIONED, ALLOWED, Verdict


def text_pipeline(max_features: int, seed: int) -> Pipeline:
    """Word and character n-grams, so obfuscated spellings ('v3rmin') still share features."""
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=max_features)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  max_features=max_features)),
    ])
    model = LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0, random_state=seed)
    return Pipeline([("features", features), ("model", model)])


PREDICT_CHUNK = 5_000  # a second or two of predict_proba: the longest wait for a cancelled review


class ReviewCancelled(Exception):
    """The review was cancelled between two steps of fitting or predicting; its work is dropped."""


def checkpoint(stop: threading.Event | None) -> None:
    """Raise `ReviewCancelled` when the review has been cancelled (called between short steps)."""
    if stop is not None and stop.is_set():
        raise ReviewCancelled


class Probabilistic(Protocol):
    """A fitted scikit-learn classifier (a pipeline, or a model loaded from MLflow)."""

    classes_: np.ndarray

    def predict_proba(self, x: Any) -> np.ndarray: ...


def predict_in_chunks(model: Probabilistic, texts: np.ndarray, stop: threading.Event | None = None) -> np.ndarray:
    """predict_proba over slices, so a million items never become one giant n-gram matrix (and a
    cancelled review stops between slices)."""
    parts = []
    for start in range(0, len(texts), PREDICT_CHUNK):
        checkpoint(stop)
        parts.append(model.predict_proba(texts[start:start + PREDICT_CHUNK]))
    return np.vstack(parts) if parts else np.zeros((0, len(model.classes_)))


def fit_in_steps(pipeline: Pipeline, texts: np.ndarray, labels: np.ndarray, stop: threading.Event | None) -> Pipeline:
    """`pipeline.fit`, with a cancellation check between the features and the model (each a few
    seconds on thousands of items; the pair is twice that)."""
    checkpoint(stop)
    x = pipeline.named_steps["features"].fit_transform(texts)
    checkpoint(stop)
    pipeline.named_steps["model"].fit(x, labels)
    checkpoint(stop)
    return pipeline


class ClassifierReviewer:
    """Judges items by a text classifier's probability that they violate.

    With no training set the eval set itself is cross-fitted: every item gets an out-of-fold
    prediction, so no item is judged by a model that saw its label.
    """

    reads_policy = False

    def __init__(self, config: ClassifierReviewerConfig, *, base_dir: Path = Path(".")) -> None:
        self.config = config
        self.name = config.name
        self.base_dir = base_dir
        self.mode_ = "model_uri" if config.model_uri else "trained" if config.train else "cross_fitted"
        self.model_: Pipeline | None = None
        self.per_category_ = False  # multi-label gold: one binary model per category
        self.skipped_categories_: list[str] = []
        self._memo: dict[tuple[str, ...], list[Verdict]] = {}

    def params(self) -> ClassifierParams:
        c = self.config
        source = c.model_uri or (c.train.path if c.train else "out-of-fold on the eval set")
        estimator = "tfidf(word 1-2, char 2-5) + logistic regression" if not c.model_uri else "mlflow model"
        if self.per_category_:
            estimator = f"{estimator}, one-vs-rest per category (multi-label gold)"
        return ClassifierParams(mode=self.mode_, source=str(source), folds=c.folds, threshold=c.threshold,
                                max_features=c.max_features, seed=c.seed, estimator=estimator,
                                skipped_categories=list(self.skipped_categories_) if self.per_category_ else None,
                                reads_policy=self.reads_policy)

    def usage(self) -> Usage | None:
        return None  # calls no model

    def close(self) -> None:
        self._memo.clear()

    async def review(self, items: pd.DataFrame, policy: Policy) -> list[Verdict]:
        """Fits and predicts on a worker thread; cancelled (Ctrl-C), it stops at the next short step."""
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self.judge, items, policy, stop)
        except asyncio.CancelledError:
            stop.set()  # the thread runs on until its next checkpoint, then drops its work
            raise

    def judge(self, items: pd.DataFrame, policy: Policy, stop: threading.Event | None = None) -> list[Verdict]:
        """The verdicts, computed on this thread; `stop` set from another thread ends the work at the
        next step with `ReviewCancelled`."""
        # The classifier does not read the policy text: one prediction serves every policy version.
        columns = ["item_id", TEXT, GOLD] + ([GOLD_UNKNOWN] if GOLD_UNKNOWN in items else [])
        key = (*policy.category_ids, sha256_json(items[columns].to_numpy().tolist()))
        if key not in self._memo:
            started = time.monotonic()
            say(f"{self.name}: {self._work(len(items))}")
            if not self.config.model_uri and is_multilabel(self._training_items(items, policy)):
                self._memo[key] = self._per_category_verdicts(items, policy, stop)
            else:
                classes, proba = self._probabilities(items, policy, stop)
                self._memo[key] = self._verdicts(items, classes, proba)
            say(f"{self.name}: {len(items)} items judged in {duration(time.monotonic() - started)}")
        return self._memo[key]

    def _work(self, n: int) -> str:
        """What the classifier is about to do, as its start line says it."""
        if self.config.model_uri:
            return f"predicting {n} items with {self.config.model_uri}"
        if self.config.train:
            return f"fitting on its training set, then predicting {n} items"
        return f"cross-fitting {self.config.folds} folds on {n} items"

    def _training_items(self, items: pd.DataFrame, policy: Policy) -> pd.DataFrame:
        if not self.config.train:
            return items
        train = load_evalset(self.config.train, base_dir=self.base_dir)
        train.check_labels(policy.category_ids, policy_path=policy.path)
        return train.items

    def _per_category_verdicts(self, items: pd.DataFrame, policy: Policy,
                               stop: threading.Event | None) -> list[Verdict]:
        """Multi-label gold (or unknown labels): one binary model per category, each trained only
        on items whose label for that category is known. Cross-fitted when there is no training set."""
        self.per_category_ = True
        categories = policy.category_ids
        texts = items[TEXT].astype(str).to_numpy()
        if self.config.train:
            train = self._training_items(items, policy)
            positive, known = label_matrix(train, categories)
            proba = self._fit_predict(train[TEXT].astype(str).to_numpy(), positive, known, texts, categories, stop)
        else:
            positive, known = label_matrix(items, categories)
            proba = self._cross_fit_per_category(texts, positive, known, categories, stop)
        verdicts = []
        for row, item_id in enumerate(items["item_id"]):
            score = float(proba[row].max()) if len(categories) else 0.0
            order = np.argsort(-proba[row], kind="stable")
            cited = [categories[j] for j in order if proba[row, j] >= self.config.threshold]
            actioned = score >= self.config.threshold
            verdicts.append(Verdict(item_id=str(item_id), decision=ACTIONED if actioned else ALLOWED,
                                    categories=cited if actioned else [], score=score,
                                    confidence=max(score, 1.0 - score)))
        return verdicts

    def _learnable(self, positive: np.ndarray, known: np.ndarray, categories: list[str]) -> list[int]:
        keep = []
        for j in range(len(categories)):
            pos = int((positive[:, j] & known[:, j]).sum())
            neg = int((~positive[:, j] & known[:, j]).sum())
            if pos >= 2 and neg >= 2:
                keep.append(j)
        self.skipped_categories_ = [c for j, c in enumerate(categories) if j not in keep]
        return keep

    def _fit_predict(self, train_texts: np.ndarray, positive: np.ndarray, known: np.ndarray,
                     texts: np.ndarray, categories: list[str], stop: threading.Event | None) -> np.ndarray:
        proba = np.zeros((len(texts), len(categories)))
        base = text_pipeline(self.config.max_features, self.config.seed)
        features = clone(base.named_steps["features"])
        x_train = features.fit_transform(train_texts)
        checkpoint(stop)
        x_test = features.transform(texts)
        for j in self._learnable(positive, known, categories):
            checkpoint(stop)
            rows = known[:, j]
            model = _binary(base).fit(x_train[rows], positive[rows, j])
            proba[:, j] = model.predict_proba(x_test)[:, list(model.classes_).index(True)]
        return proba

    def _cross_fit_per_category(self, texts: np.ndarray, positive: np.ndarray, known: np.ndarray,
                                categories: list[str], stop: threading.Event | None) -> np.ndarray:
        learnable = self._learnable(positive, known, categories)
        if not learnable:
            raise HarnessError(
                f"classifier '{self.name}' cannot be cross-fitted: no category has at least two known "
                "violating and two known non-violating items; add items or give the reviewer a 'train' set.")
        strata = _strata(positive)
        splits = max(2, min(self.config.folds, len(texts) // 2))
        folds = StratifiedKFold(n_splits=splits, shuffle=True, random_state=self.config.seed)
        base = text_pipeline(self.config.max_features, self.config.seed)
        proba = np.zeros((len(texts), len(categories)))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")
            split = list(folds.split(texts, strata))
        # Features are fitted per fold on training texts only (labels are not used), then one
        # logistic regression per category on the training items whose label is known.
        for train_idx, test_idx in split:
            checkpoint(stop)
            features = clone(base.named_steps["features"])
            x_train = features.fit_transform(texts[train_idx])
            checkpoint(stop)
            x_test = features.transform(texts[test_idx])
            for j in learnable:
                checkpoint(stop)
                rows = known[train_idx, j]
                labels = positive[train_idx, j][rows]
                if labels.all() or not labels.any():
                    proba[test_idx, j] = float(labels.any())
                    continue
                model = _binary(base).fit(x_train[rows], labels)
                proba[test_idx, j] = model.predict_proba(x_test)[:, list(model.classes_).index(True)]
        return proba

    def _probabilities(self, items: pd.DataFrame, policy: Policy,
                       stop: threading.Event | None) -> tuple[list[str], np.ndarray]:
        texts = items[TEXT].astype(str).to_numpy()
        if self.config.model_uri:
            return self._from_mlflow(texts, policy, stop)
        if self.config.train:
            train = load_evalset(self.config.train, base_dir=self.base_dir)
            train.check_labels(policy.category_ids, policy_path=policy.path)
            self.model_ = self._fit(train.items[TEXT].to_numpy(), train.items[GOLD].to_numpy(), train.source, stop)
            return list(self.model_.classes_), predict_in_chunks(self.model_, texts, stop)
        return self._cross_fit(texts, items[GOLD].to_numpy(), stop)

    def _fit(self, texts: np.ndarray, labels: np.ndarray, source: str, stop: threading.Event | None) -> Pipeline:
        if len(set(labels)) < 2:
            raise HarnessError(f"classifier '{self.name}' needs training items of at least two labels "
                               f"(benign and a violating category); got only '{labels[0]}'.", path=source)
        return fit_in_steps(text_pipeline(self.config.max_features, self.config.seed), texts, labels, stop)

    def _cross_fit(self, texts: np.ndarray, labels: np.ndarray,
                   stop: threading.Event | None) -> tuple[list[str], np.ndarray]:
        classes = sorted(set(labels))
        smallest = min(int((labels == c).sum()) for c in classes)
        if len(classes) < 2 or smallest < 2:
            raise HarnessError(
                f"classifier '{self.name}' cannot be cross-fitted: every gold label needs at least two "
                "items (and there must be two labels); add items or give the reviewer a 'train' set.")
        folds = StratifiedKFold(n_splits=min(self.config.folds, smallest), shuffle=True,
                                random_state=self.config.seed)
        proba = np.zeros((len(texts), len(classes)))
        base = text_pipeline(self.config.max_features, self.config.seed)
        for train_idx, test_idx in folds.split(texts, labels):
            fitted = fit_in_steps(clone(base), texts[train_idx], labels[train_idx], stop)
            columns = [classes.index(c) for c in fitted.classes_]
            proba[np.ix_(test_idx, columns)] = fitted.predict_proba(texts[test_idx])
        self.model_ = fit_in_steps(base, texts, labels, stop)
        return classes, proba

    def _from_mlflow(self, texts: np.ndarray, policy: Policy,
                     stop: threading.Event | None) -> tuple[list[str], np.ndarray]:
        from harness.tracking.queries import load_sklearn_model

        uri = str(self.config.model_uri)
        if ":" not in uri:  # a plain folder (no runs:/, models:/, file:// scheme): from the experiment's folder
            uri = str(resolve_path(uri, self.base_dir))
        try:
            loaded = load_sklearn_model(uri)
        except ValueError as err:
            raise HarnessError(f"could not load the model of classifier '{self.name}' from "
                               f"'{self.config.model_uri}' ({err}); check the URI and "
                               "MLFLOW_TRACKING_URI.") from None
        if not hasattr(loaded, "predict_proba"):
            raise HarnessError(f"the model at '{self.config.model_uri}' has no predict_proba; "
                               "log a probabilistic scikit-learn classifier.")
        model = cast(Probabilistic, loaded)
        classes = [str(c).lower() if isinstance(c, (bool, np.bool_)) else str(c) for c in model.classes_]
        if BENIGN not in classes and set(classes) <= {"0", "1", "false", "true"} and len(policy.categories) == 1:
            classes = [BENIGN if c in ("0", "false") else policy.category_ids[0] for c in classes]
        unknown = sorted(set(classes) - set(policy.category_ids) - {BENIGN})
        if unknown:
            raise HarnessError(f"the model at '{self.config.model_uri}' predicts class '{unknown[0]}', which is "
                               f"neither '{BENIGN}' nor a category of policy {policy.label}.")
        self.model_ = model
        return classes, predict_in_chunks(model, texts, stop)

    def _verdicts(self, items: pd.DataFrame, classes: list[str], proba: np.ndarray) -> list[Verdict]:
        benign_col = classes.index(BENIGN) if BENIGN in classes else None
        violating = 1.0 - proba[:, benign_col] if benign_col is not None else np.ones(len(proba))
        category_cols = [i for i, c in enumerate(classes) if c != BENIGN]
        verdicts = []
        for row, item_id in enumerate(items["item_id"]):
            score = float(violating[row])
            actioned = score >= self.config.threshold
            top = max(category_cols, key=lambda i: proba[row, i]) if category_cols else None
            verdicts.append(Verdict(
                item_id=str(item_id),
                decision=ACTIONED if actioned else ALLOWED,
                categories=[classes[top]] if actioned and top is not None else [],
                score=score,
                confidence=float(proba[row].max()),
            ))
        return verdicts


def is_multilabel(items: pd.DataFrame) -> bool:
    """Gold with several categories per item, or with unknown labels, needs per-category models."""
    gold = items[GOLD].astype(str)
    listed = items[GOLD_UNKNOWN].fillna("").astype(str) if GOLD_UNKNOWN in items else pd.Series("", index=items.index)
    return bool(gold.str.contains(";", regex=False).any() or (gold == UNKNOWN).any() or (listed != "").any())


def label_matrix(items: pd.DataFrame, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(positive, known) boolean matrices, items x categories."""
    gold = items[GOLD].astype(str).to_numpy()
    listed = (items[GOLD_UNKNOWN].fillna("").astype(str).to_numpy() if GOLD_UNKNOWN in items
              else np.full(len(items), "", dtype=object))
    positive = np.array([[c in str(g).split(";") for c in categories] for g in gold],
                        dtype=np.bool_).reshape(len(gold), -1)
    known = np.array([[not ((g == UNKNOWN and not u) or c in str(u).split(";")) for c in categories]
                      for g, u in zip(gold, listed, strict=True)], dtype=np.bool_).reshape(len(gold), -1)
    return positive, known


def _strata(positive: np.ndarray) -> np.ndarray:
    """Fold strata: the item's rarest positive category, else 'none', so rare categories spread over folds."""
    counts = positive.sum(axis=0)
    strata = np.array(["none"] * len(positive), dtype=object)
    for row in range(len(positive)):
        hits = np.flatnonzero(positive[row])
        if len(hits):
            strata[row] = str(hits[np.argmin(counts[hits])])
    return strata


def _binary(base: Pipeline) -> LogisticRegression:
    """The pipeline's logistic regression for one category; liblinear is the fast solver for a
    binary problem on sparse features (same L2 penalty and C)."""
    return clone(base.named_steps["model"]).set_params(solver="liblinear")

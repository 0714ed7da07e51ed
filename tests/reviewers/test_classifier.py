"""Classifier reviewer: out-of-fold cross-fitting, a separate training set, and MLflow models."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.config import ClassifierReviewerConfig, EvalSetConfig
from harness.errors import HarnessError
from harness.policy import Policy, load_policy
from harness.reviewers import review_sync
from harness.reviewers.classifier import ClassifierReviewer

BENIGN_WORDS = ["sunny", "garden", "coffee", "music", "friends", "holiday", "picnic", "river"]
HATE_WORDS = ["vermin", "filth", "scum", "parasites", "rats", "disease", "subhuman", "plague"]
ODD = ["qwxa", "zzkb", "plmq", "vtrx", "yhgn"]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(Path(__file__).resolve().parents[2] / "prompts" / "policies" / "hate_speech" / "v1.md")


def items(n: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append((f"b{i}", f"what a {BENIGN_WORDS[i % 8]} {BENIGN_WORDS[(i * 3 + 1) % 8]} day", "benign"))
        rows.append((f"h{i}", f"those people are {HATE_WORDS[i % 8]} and {HATE_WORDS[(i * 5 + 2) % 8]}", "HS"))
    return pd.DataFrame(rows, columns=["item_id", "text", "gold"])


def with_contradictions() -> pd.DataFrame:
    """Hateful-looking texts labelled benign, each made unique by a token no other item has:
    a model that saw an item memorises its label; a model that did not judges it hateful."""
    odd = pd.DataFrame([(f"odd{j}", f"those people are {HATE_WORDS[j]} {w}{w}", "benign") for j, w in enumerate(ODD)],
                       columns=["item_id", "text", "gold"])
    return pd.concat([items(), odd], ignore_index=True)


def config(**kwargs) -> ClassifierReviewerConfig:
    return ClassifierReviewerConfig(type="classifier", name="tfidf-lr", max_features=1000, **kwargs)


def test_cross_fitted_predictions_are_out_of_fold(policy: Policy) -> None:
    table = with_contradictions()
    reviewer = ClassifierReviewer(config(folds=5))
    verdicts = {v.item_id: v for v in review_sync(reviewer, table, policy)}
    assert reviewer.mode_ == "cross_fitted"
    assert len(verdicts) == len(table)
    odd = [verdicts[f"odd{j}"] for j in range(len(ODD))]
    # judged by models that never saw these items' labels: they look hateful, so they are actioned
    assert all(v.decision == "actioned" and v.score > 0.5 for v in odd)
    # the in-sample model (fitted on every item) has memorised them as benign
    in_sample = reviewer.model_.predict_proba(table[table["item_id"].str.startswith("odd")]["text"].to_numpy())
    benign_col = list(reviewer.model_.classes_).index("benign")
    assert (in_sample[:, benign_col] > 0.5).all()
    # ordinary items are judged correctly
    rest = [v for k, v in verdicts.items() if not k.startswith("odd")]
    assert all(v.decision == ("actioned" if v.item_id.startswith("h") else "allowed") for v in rest)
    assert all(v.categories == (["HS"] if v.decision == "actioned" else []) for v in verdicts.values())


def test_cross_fitting_is_deterministic_and_shared_between_policies(policy: Policy, repo_root: Path) -> None:
    table = with_contradictions()
    first = [v.score for v in review_sync(ClassifierReviewer(config(seed=3)), table, policy)]
    second = [v.score for v in review_sync(ClassifierReviewer(config(seed=3)), table, policy)]
    assert first == second
    reviewer = ClassifierReviewer(config())
    v2 = load_policy(repo_root / "prompts" / "policies" / "hate_speech" / "v2.md")
    assert [v.score for v in review_sync(reviewer, table, policy)] == [v.score for v in review_sync(reviewer, table, v2)]


def test_threshold_moves_decisions(policy: Policy) -> None:
    table = with_contradictions()
    strict = review_sync(ClassifierReviewer(config(threshold=0.0)), table, policy)
    lenient = review_sync(ClassifierReviewer(config(threshold=1.0)), table, policy)
    assert all(v.decision == "actioned" for v in strict)
    assert sum(v.decision == "actioned" for v in lenient) < len(table)


def test_cross_fitting_needs_two_items_per_label(policy: Policy) -> None:
    table = pd.DataFrame([("a", "nice day", "benign"), ("b", "nice walk", "benign"), ("c", "vermin", "HS")],
                         columns=["item_id", "text", "gold"])
    with pytest.raises(HarnessError, match="at least two items"):
        review_sync(ClassifierReviewer(config()), table, policy)


def test_train_set(policy: Policy, tmp_path: Path) -> None:
    train = items(30).rename(columns={"text": "tweet", "gold": "class"})
    train["class"] = train["class"].map({"benign": 2, "HS": 0})
    (tmp_path / "train.csv").write_text(train.to_csv(index=False), encoding="utf-8")
    train_config = EvalSetConfig(path="train.csv", columns={"text": "tweet", "label": "class"},
                                 labels={"0": "HS", "2": "benign"})
    reviewer = ClassifierReviewer(config(train=train_config), base_dir=tmp_path)  # path relative to the experiment
    eval_items = pd.DataFrame([("e1", "what a sunny picnic day", "benign"), ("e2", "those people are filth and rats", "HS"),
                               ("e3", "what a coffee music day", "benign"), ("e4", "those people are scum", "HS")],
                              columns=["item_id", "text", "gold"])
    verdicts = review_sync(reviewer, eval_items, policy)
    assert reviewer.mode_ == "trained" and reviewer.params().source == "train.csv"
    assert [v.decision for v in verdicts] == ["allowed", "actioned", "allowed", "actioned"]


def test_train_set_with_one_label_is_an_error(policy: Policy, tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("text,label\nnice,benign\nlovely,benign\n", encoding="utf-8")
    reviewer = ClassifierReviewer(config(train=EvalSetConfig(path=str(tmp_path / "train.csv"))))
    with pytest.raises(HarnessError, match="two labels") as info:
        review_sync(reviewer, items(3), policy)
    assert "train.csv" in str(info.value)


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def test_model_from_mlflow_runs_uri(policy: Policy, tracking: str, tmp_path: Path) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    client = mlflow.tracking.MlflowClient(tracking_uri=tracking)
    experiment_id = client.create_experiment("models", artifact_location=(tmp_path / "artifacts").as_uri())
    train = items(20)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    model.fit(train["text"], (train["gold"] == "HS").astype(int))  # 0/1 classes, as many users log them
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.sklearn.log_model(model, name="model")

    uri = f"runs:/{run.info.run_id}/model"
    reviewer = ClassifierReviewer(config(model_uri=uri))
    eval_items = pd.DataFrame([("e1", "what a sunny garden day", "benign"), ("e2", "those people are vermin", "HS")],
                              columns=["item_id", "text", "gold"])
    verdicts = review_sync(reviewer, eval_items, policy)
    assert reviewer.mode_ == "model_uri" and reviewer.params().source == uri
    assert [v.decision for v in verdicts] == ["allowed", "actioned"]
    assert verdicts[1].categories == ["HS"]  # class 1 maps to the policy's only category

    with pytest.raises(HarnessError, match="could not load the model"):
        review_sync(ClassifierReviewer(config(model_uri="runs:/0123456789abcdef/model")), eval_items, policy)

"""Supervised topic classification of consultations.

A scikit-learn estimator over Kiwi morphemes plus character n-grams with a calibrated linear SVM,
its plain baseline, and the held-out evaluation that compares the two on the same split.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from carsight.errors import DataTooThinError, InputError
from carsight.voc.normalise import normalise_text
from carsight.voc.tokenise import _MASK_RE, Tokenizer, split_tokens, tokens_to_text

MODEL_KIND = "voc_topic"
# Fewer labelled texts than this (or a class with fewer than two) cannot give a held-out estimate.
MIN_LABELLED = 20


def _texts(X) -> list[str]:
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise InputError("expected one text column", expected="a single column of texts")
        X = X.iloc[:, 0]
    return [normalise_text(x) for x in (X.tolist() if hasattr(X, "tolist") else list(X))]


class TopicClassifier(ClassifierMixin, BaseEstimator):
    """Topic of a consultation, with a calibrated confidence.

    Features are a TF-IDF over Kiwi morphemes (unigrams and bigrams, domain dictionary applied) next
    to a TF-IDF over character 2-4-grams within words (robust to spelling variants, spacing errors
    and words the dictionary lacks); the model is a linear SVM whose scores are calibrated into
    probabilities by temperature scaling (one temperature for all classes, fitted on
    cross-validation folds, so small classes are not over-fitted as with one sigmoid per class).

    Parameters
    ----------
    C: regularisation of the linear SVM (larger = less regularised).
    word_ngrams, char_ngrams: n-gram ranges of the two TF-IDF views.
    min_df: a feature must occur in this many texts.
    review_threshold: predictions with a confidence below this are marked ``needs_review``.
    calibration_cv: folds used to calibrate (reduced automatically for small classes).
    terms: extra ``(word, tag)`` dictionary entries (model names, company jargon).
    """

    def __init__(
        self,
        C: float = 0.5,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 4),
        min_df: int = 2,
        max_features: int | None = 300_000,
        review_threshold: float = 0.5,
        calibration_cv: int = 3,
        terms: tuple = (),
        random_state: int = 0,
    ):
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.review_threshold = review_threshold
        self.calibration_cv = calibration_cv
        self.terms = terms
        self.random_state = random_state

    def _frame(self, texts: list[str], tokenizer: Tokenizer) -> pd.DataFrame:
        tokens = tokenizer.tokenize_many(texts)
        return pd.DataFrame(
            {"tokens": [tokens_to_text(t) for t in tokens], "chars": [_MASK_RE.sub(" ", t) for t in texts]}
        )

    def fit(self, X, y):
        """Learn topics from texts ``X`` and the agents' labels ``y``, with calibrated probabilities."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        texts = _texts(X)
        y = np.asarray([str(v) for v in y], dtype=object)
        if len(texts) != len(y):
            raise InputError("texts and labels differ in length")
        labels, counts = np.unique(y, return_counts=True)
        kept = labels[counts >= 2]
        self.dropped_classes_ = sorted(labels[counts < 2].tolist())
        mask = np.isin(y, kept)
        if kept.size < 2 or mask.sum() < MIN_LABELLED // 2:
            raise DataTooThinError(
                f"need at least two topics with two or more labelled texts each (got {len(texts)} texts, "
                f"{kept.size} usable topics)"
            )
        texts = [t for t, keep in zip(texts, mask, strict=True) if keep]
        y = y[mask]
        self.tokenizer_ = Tokenizer(tuple(self.terms))
        # min_df cannot exceed what tiny training sets can satisfy
        min_df = self.min_df if len(texts) >= 10 * self.min_df else 1
        self.features_ = ColumnTransformer(
            [
                (
                    "morphemes",
                    TfidfVectorizer(
                        analyzer="word",
                        tokenizer=split_tokens,
                        token_pattern=None,
                        lowercase=False,
                        ngram_range=tuple(self.word_ngrams),
                        min_df=min_df,
                        sublinear_tf=True,
                        max_features=self.max_features,
                    ),
                    "tokens",
                ),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=tuple(self.char_ngrams),
                        min_df=min_df,
                        sublinear_tf=True,
                        max_features=self.max_features,
                    ),
                    "chars",
                ),
            ]
        )
        matrix = self.features_.fit_transform(self._frame(texts, self.tokenizer_))
        folds = int(min(self.calibration_cv, np.unique(y, return_counts=True)[1].min()))
        self.model_ = CalibratedClassifierCV(
            LinearSVC(C=self.C, class_weight="balanced", random_state=self.random_state),
            method="temperature",
            cv=max(folds, 2),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on tiny folds
            self.model_.fit(matrix, y)
        self.classes_ = self.model_.classes_
        self.n_train_ = len(texts)
        return self

    def _features(self, X):
        check_is_fitted(self, "model_")
        texts = _texts(X)
        return self.features_.transform(self._frame(texts, self.tokenizer_))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of each topic per text."""
        return self.model_.predict_proba(self._features(X))

    def predict(self, X) -> np.ndarray:
        """The most likely topic per text."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def review(self, X) -> pd.DataFrame:
        """``label``, ``confidence`` (calibrated probability of that label) and ``needs_review``."""
        proba = self.predict_proba(X)
        best = proba.argmax(axis=1)
        confidence = proba[np.arange(len(best)), best]
        return pd.DataFrame(
            {
                "label": self.classes_[best],
                "confidence": confidence,
                "needs_review": confidence < self.review_threshold,
            }
        )


def baseline_classifier(random_state: int = 0):
    """The plain baseline: whitespace tokens, TF-IDF, logistic regression (what a first attempt does)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(token_pattern=r"(?u)\S+", lowercase=True),
        LogisticRegression(max_iter=2000, random_state=random_state),
    )


def _scores(y_true, y_pred, labels) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def evaluate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    test_size: float = 0.25,
    random_state: int = 0,
    classifier: TopicClassifier | None = None,
) -> dict:
    """Fit :class:`TopicClassifier` and the baseline on the same stratified split; score both on the held-out part.

    Returns sizes, labels, per-model accuracy / macro-F1 / confusion matrix, the share of held-out
    texts marked needs_review and their accuracy, and a ``warning`` when data is thin.
    """
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    texts = _texts(list(texts))
    y = np.asarray([str(v) for v in labels], dtype=object)
    values, counts = np.unique(y, return_counts=True)
    usable = values[counts >= 4]  # two to train, one or more to test, after the split
    mask = np.isin(y, usable)
    if usable.size < 2 or mask.sum() < MIN_LABELLED:
        raise DataTooThinError(
            f"too few labelled texts to evaluate: {int(mask.sum())} texts in {usable.size} topics with four or more "
            f"examples (need {MIN_LABELLED} in at least two topics)"
        )
    texts = [t for t, keep in zip(texts, mask, strict=True) if keep]
    y = y[mask]
    x_train, x_test, y_train, y_test = train_test_split(
        texts, y, test_size=test_size, random_state=random_state, stratify=y
    )
    names = sorted(usable.tolist())
    model = clone(classifier) if classifier is not None else TopicClassifier(random_state=random_state)
    model.fit(x_train, y_train)
    review = model.review(x_test)
    ours = _scores(y_test, review["label"].to_numpy(), names)
    confident = ~review["needs_review"].to_numpy()
    ours["needs_review_share"] = float(1 - confident.mean())
    ours["accuracy_when_confident"] = (
        float((review["label"].to_numpy()[confident] == y_test[confident]).mean()) if confident.any() else None
    )
    base = baseline_classifier(random_state).fit(x_train, y_train)
    baseline = _scores(y_test, base.predict(x_test), names)
    smallest = int(pd.Series(y_test).value_counts().min())
    warning = None
    if len(y_test) < 100 or smallest < 10:
        warning = (
            f"thin evaluation: {len(y_test)} held-out texts, smallest topic has {smallest}; "
            "differences of a few points are not reliable"
        )
    return {
        "labels": names,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "dropped_labels": sorted(values[counts < 4].tolist()),
        "model": {"name": "TopicClassifier (morphemes + char n-grams, calibrated linear SVM)", **ours},
        "baseline": {"name": "whitespace TF-IDF + logistic regression", **baseline},
        "warning": warning,
    }

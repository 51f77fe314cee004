"""Topic discovery when nobody has labelled the texts yet.

NMF over a morpheme TF-IDF, each topic named by its c-TF-IDF top words, so a team can review the
groups and turn them into a label set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from carsight.errors import DataTooThinError
from carsight.voc.keywords import c_tf_idf, doc_term_matrix
from carsight.voc.normalise import normalise_text
from carsight.voc.tokenise import Tokenizer, split_tokens, tokens_to_text


class TopicDiscovery(TransformerMixin, BaseEstimator):
    """Unsupervised topics.

    ``fit`` learns ``k`` NMF components; ``transform`` gives topic weights; ``predict`` the
    strongest topic per text (-1 when a text has no known word).

    Learned: ``topics_`` (topic, label, size, share, top_words), ``labels_`` (per training text).
    A ``warning_`` is set when there are fewer than 20 texts per topic: the split is then unstable.
    """

    def __init__(self, k: int = 10, top_words: int = 8, min_df: int = 2, terms: tuple = (), random_state: int = 0):
        self.k = k
        self.top_words = top_words
        self.min_df = min_df
        self.terms = terms
        self.random_state = random_state

    def _token_lists(self, X) -> list[list[str]]:
        texts = [normalise_text(x) for x in X]
        return self.tokenizer_.tokenize_many(texts)

    def fit(self, X, y=None):
        """Discover ``k`` topics in texts ``X`` (NMF on TF-IDF)."""
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfVectorizer

        X = list(X)
        if self.k < 2:
            raise DataTooThinError("k must be at least 2 topics")
        if len(X) < 2 * self.k:
            raise DataTooThinError(f"{len(X)} texts cannot be split into {self.k} topics (need at least {2 * self.k})")
        self.tokenizer_ = Tokenizer(tuple(self.terms))
        tokens = self._token_lists(X)
        min_df = self.min_df if len(X) >= 50 else 1
        self.vectorizer_ = TfidfVectorizer(
            tokenizer=split_tokens, token_pattern=None, lowercase=False, min_df=min_df, sublinear_tf=True
        )
        matrix = self.vectorizer_.fit_transform([tokens_to_text(t) for t in tokens])
        if matrix.shape[1] < self.k:
            raise DataTooThinError(f"only {matrix.shape[1]} distinct words for {self.k} topics")
        self.nmf_ = NMF(n_components=self.k, init="nndsvda", random_state=self.random_state, max_iter=400)
        weights = self.nmf_.fit_transform(matrix)
        self.labels_ = np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1)
        counts, vocab = doc_term_matrix(tokens, bigrams=False)
        assigned = self.labels_ >= 0
        words = c_tf_idf(counts[assigned], self.labels_[assigned], vocab, top=self.top_words) if assigned.any() else {}
        sizes = pd.Series(self.labels_[assigned]).value_counts()
        rows = []
        for topic in range(self.k):
            top = words.get(topic, [])
            rows.append(
                {
                    "topic": topic,
                    "label": " · ".join(top[:3]) if top else f"topic {topic}",
                    "size": int(sizes.get(topic, 0)),
                    "share": float(sizes.get(topic, 0) / max(len(X), 1)),
                    "top_words": ", ".join(top),
                }
            )
        self.topics_ = pd.DataFrame(rows)
        self.warning_ = (
            f"only {len(X) / self.k:.0f} texts per topic on average: topics may change with more data"
            if len(X) < 20 * self.k
            else None
        )
        return self

    def transform(self, X) -> np.ndarray:
        """The weight of each topic in each text."""
        check_is_fitted(self, "nmf_")
        tokens = self._token_lists(list(X))
        return self.nmf_.transform(self.vectorizer_.transform([tokens_to_text(t) for t in tokens]))

    def predict(self, X) -> np.ndarray:
        """The strongest topic per text (-1 when no topic word occurs)."""
        weights = self.transform(X)
        return np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1)


def discover_topics(texts: Sequence[str], k: int = 10, **params) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Fit :class:`TopicDiscovery`; return (per-text topic and label, topic table, warning)."""
    model = TopicDiscovery(k=k, **params).fit(texts)
    names = dict(zip(model.topics_["topic"], model.topics_["label"], strict=True))
    assigned = pd.DataFrame({"topic": model.labels_, "topic_label": [names.get(int(t), "") for t in model.labels_]})
    return assigned, model.topics_, model.warning_

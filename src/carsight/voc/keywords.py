"""Keyword ranking over tokenised texts.

Plain frequency, distinctiveness of a group against the rest (weighted log-odds with an informative
Dirichlet prior, Monroe, Colaresi & Quinn 2008), c-TF-IDF topic words, and keywords rising this
period against the previous one (one-sided Fisher exact test with a Benjamini-Hochberg correction).

Counts are *document* counts: a keyword counts once per consultation, so one customer repeating a
word ten times does not outweigh ten customers saying it once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse, stats

# Below this many texts in a group, rankings are shown but flagged as thin.
THIN_GROUP = 30
# The columns of :func:`rising_keywords`.
RISING_COLUMNS = [
    "period",
    "keyword",
    "count",
    "previous",
    "texts",
    "previous_texts",
    "ratio",
    "z",
    "p_value",
    "q_value",
    "significant",
]


def with_bigrams(tokens: Sequence[str]) -> list[str]:
    """Unigrams plus adjacent pairs (``출고 지연``), the analyzer behind every count here."""
    tokens = list(tokens)
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False) if a != b]


def _unigrams(tokens: Sequence[str]) -> list[str]:
    return list(tokens)


def doc_term_matrix(token_lists: Sequence[Sequence[str]], *, bigrams: bool = True, min_df: int = 1):
    """Binary document-term matrix (CSR) and its vocabulary."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        analyzer=with_bigrams if bigrams else _unigrams, binary=True, min_df=min_df, dtype=np.int32
    )
    try:
        matrix = vectorizer.fit_transform(token_lists)
    except ValueError:  # nothing left after min_df, or no tokens at all
        return sparse.csr_matrix((len(token_lists), 0), dtype=np.int32), np.array([], dtype=object)
    return matrix.tocsr(), vectorizer.get_feature_names_out()


def _group_counts(matrix, groups: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keyword counts per group (groups × vocabulary), the group names and texts per group."""
    codes, names = pd.factorize(pd.Series(list(groups), dtype="object"), use_na_sentinel=False)
    indicator = sparse.csr_matrix(
        (np.ones(len(codes), dtype=np.int64), (codes, np.arange(len(codes)))), shape=(len(names), len(codes))
    )
    counts = np.asarray((indicator @ matrix).todense())
    sizes = np.bincount(codes, minlength=len(names))
    return counts, np.asarray(names, dtype=object), sizes


def log_odds_z(counts: np.ndarray, prior_strength: float = 0.1) -> np.ndarray:
    """z-scores of each group's weighted log-odds against all other groups (groups × vocabulary).

    The informative prior is the whole corpus' counts times ``prior_strength``: rare words are
    shrunk towards "not distinctive" instead of topping the list on two mentions.
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=0)
    alpha = prior_strength * total + 1e-9
    alpha0 = alpha.sum()
    n_group = counts.sum(axis=1, keepdims=True)
    rest = total[None, :] - counts
    n_rest = n_group.sum() - n_group
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.log((counts + alpha) / (n_group + alpha0 - counts - alpha)) - np.log(
            (rest + alpha) / (n_rest + alpha0 - rest - alpha)
        )
        variance = 1.0 / (counts + alpha) + 1.0 / (rest + alpha)
        z = delta / np.sqrt(variance)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def rank_keywords(
    token_lists: Sequence[Sequence[str]],
    groups: Sequence | None = None,
    *,
    top: int = 20,
    by: str = "distinctive",
    bigrams: bool = True,
    min_count: int = 3,
    prior_strength: float = 0.1,
) -> pd.DataFrame:
    """Top keywords per group.

    Returns one row per (group, keyword) with ``count`` (texts mentioning it), ``share`` (of the
    group's texts), ``z`` (distinctiveness against the other groups; NaN without groups), ``rank``,
    ``texts`` (group size) and ``thin`` (fewer than 30 texts: read with care). ``by`` is
    ``"distinctive"`` or ``"frequency"``; without groups everything is one group ``"all"`` ranked by
    frequency.
    """
    if by not in ("distinctive", "frequency"):
        raise ValueError("by must be 'distinctive' or 'frequency'")
    columns = ["group", "rank", "keyword", "count", "share", "z", "texts", "thin"]
    if groups is None:
        groups = ["all"] * len(token_lists)
        by = "frequency"
    if len(groups) != len(token_lists):
        raise ValueError("groups and texts differ in length")
    matrix, vocab = doc_term_matrix(token_lists, bigrams=bigrams)
    if matrix.shape[1] == 0:
        return pd.DataFrame(columns=columns)
    counts, names, sizes = _group_counts(matrix, groups)
    z = log_odds_z(counts, prior_strength) if len(names) > 1 else np.full(counts.shape, np.nan)
    rows = []
    for g, name in enumerate(names):
        eligible = np.flatnonzero(counts[g] >= min_count)
        if by == "distinctive":
            eligible = eligible[z[g, eligible] > 0]
            order = eligible[np.lexsort((vocab[eligible], -counts[g, eligible], -z[g, eligible]))]
        else:
            order = eligible[np.lexsort((vocab[eligible], -counts[g, eligible]))]
        for rank, j in enumerate(order[:top], start=1):
            rows.append(
                {
                    "group": name,
                    "rank": rank,
                    "keyword": vocab[j],
                    "count": int(counts[g, j]),
                    "share": counts[g, j] / max(sizes[g], 1),
                    "z": float(z[g, j]),
                    "texts": int(sizes[g]),
                    "thin": bool(sizes[g] < THIN_GROUP),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def keyword_frequencies(token_lists: Sequence[Sequence[str]], *, top: int = 200, bigrams: bool = False) -> dict:
    """``{keyword: texts mentioning it}`` for the ``top`` keywords (the input of a word cloud)."""
    ranked = rank_keywords(token_lists, None, top=top, by="frequency", bigrams=bigrams, min_count=1)
    return dict(zip(ranked["keyword"], ranked["count"].astype(int), strict=True))


def c_tf_idf(matrix, labels: Sequence[int], vocab: np.ndarray, top: int = 8) -> dict[int, list[str]]:
    """Top words per cluster by class-based TF-IDF (BERTopic's c-TF-IDF).

    Term frequency within the cluster times log(1 + average cluster size / term frequency over all
    clusters).
    """
    counts, names, _ = _group_counts(matrix, labels)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average = counts.sum() / max(len(names), 1)
    idf = np.log1p(average / np.maximum(counts.sum(axis=0), 1))
    score = tf * idf
    out = {}
    for g, name in enumerate(names):
        order = np.lexsort((vocab, -score[g]))
        out[int(name)] = [vocab[j] for j in order[:top] if score[g, j] > 0]
    return out


def rising_keywords(
    current: Sequence[Sequence[str]],
    previous: Sequence[Sequence[str]],
    *,
    period: str = "",
    min_count: int = 5,
    alpha: float = 0.05,
    bigrams: bool = False,
) -> pd.DataFrame:
    """Keywords mentioned by a larger share of texts in ``current`` than in ``previous``.

    Each keyword with at least ``min_count`` mentions this period is tested with a one-sided Fisher
    exact test (``z`` is the two-proportion z statistic, for sorting and display); p-values are corrected for the number of keywords tested
    (Benjamini-Hochberg), and ``significant`` means ``q_value < alpha``. ``ratio`` compares the
    shares, with half a mention added to each side so new words get a finite ratio.
    """
    n1, n0 = len(current), len(previous)
    if n1 == 0 or n0 == 0:
        return pd.DataFrame(columns=RISING_COLUMNS)
    matrix, vocab = doc_term_matrix(list(current) + list(previous), bigrams=bigrams)
    if matrix.shape[1] == 0:
        return pd.DataFrame(columns=RISING_COLUMNS)
    c1 = np.asarray(matrix[:n1].sum(axis=0)).ravel()
    c0 = np.asarray(matrix[n1:].sum(axis=0)).ravel()
    return rising_from_counts(vocab, c1, c0, n1, n0, period=period, min_count=min_count, alpha=alpha)


def rising_from_counts(
    keywords: Sequence[str],
    counts: Sequence[int],
    previous_counts: Sequence[int],
    texts: int,
    previous_texts: int,
    *,
    period: str = "",
    min_count: int = 5,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`rising_keywords` from the keywords' text counts of the two periods.

    Parameters
    ----------
    keywords : sequence of str
        Keywords in sorted order (as a vectoriser's vocabulary), each once.
    counts, previous_counts : sequence of int
        Texts mentioning each keyword this period and the period before.
    texts, previous_texts : int
        Texts in each period.
    period, min_count, alpha
        As for :func:`rising_keywords`; only keywords with at least ``min_count`` mentions this
        period are tested, so the others' counts may be left out.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`rising_keywords`.
    """
    n1, n0 = int(texts), int(previous_texts)
    c1 = np.asarray(counts, dtype=float)
    c0 = np.asarray(previous_counts, dtype=float)
    vocab = np.asarray(keywords, dtype=object)
    keep = np.flatnonzero(c1 >= min_count)
    if keep.size == 0 or n1 == 0 or n0 == 0:
        return pd.DataFrame(columns=RISING_COLUMNS)
    c1, c0, vocab = c1[keep], c0[keep], vocab[keep]
    p1, p0 = c1 / n1, c0 / n0
    pooled = (c1 + c0) / (n1 + n0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p1 - p0) / se, 0.0)
    # One-sided Fisher exact test (hypergeometric tail): exact for the small monthly counts where the
    # normal approximation of the z-test calls "6 mentions against 0" significant too easily.
    p_value = stats.hypergeom.sf(c1 - 1, n1 + n0, c1 + c0, n1)
    q_value = stats.false_discovery_control(p_value, method="bh")
    ratio = ((c1 + 0.5) / n1) / ((c0 + 0.5) / n0)
    frame = pd.DataFrame(
        {
            "period": period,
            "keyword": vocab,
            "count": c1.astype(int),
            "previous": c0.astype(int),
            "texts": n1,
            "previous_texts": n0,
            "ratio": ratio,
            "z": z,
            "p_value": p_value,
            "q_value": q_value,
            "significant": q_value < alpha,
        }
    )
    frame = frame[frame["z"] > 0].sort_values(["q_value", "ratio", "keyword"], ascending=[True, False, True])
    return frame.reset_index(drop=True)[RISING_COLUMNS]

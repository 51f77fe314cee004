"""The VoC pipeline step.

Mask consultation text in the warehouse, classify topics (trained on the agents' labels and checked
against a baseline on a held-out split), and store the daily keyword and topic aggregates and rising
keywords the dashboard reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from carsight.config import Settings
from carsight.errors import DataTooThinError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_voc as R
from carsight.warehouse import schema as S

if TYPE_CHECKING:
    from carsight.voc.classify import TopicClassifier
    from carsight.voc.topics import TopicDiscovery

log = logging.getLogger(__name__)

DEFAULT_REVIEW_THRESHOLD = 0.5
# Without labels, topics are discovered; fewer texts than this per topic are not worth splitting.
TEXTS_PER_DISCOVERED_TOPIC = 30
# Under settings.model_dir: Kiwi's analysis of each word, kept between runs.
WORD_CACHE_DIR = "voc_tokens"


def consultation_rows(wh: Warehouse) -> ir.Table:
    """Every consultation with the customer's name (``customer_name``, for masking), as an expression."""
    c = wh.table(S.CONSULTATIONS.name)
    if wh.has_table(S.CUSTOMERS.name):
        cust = wh.table(S.CUSTOMERS.name).select("customer_id", customer_name="name")
        return c.left_join(cust, c.customer_id == cust.customer_id).drop("customer_id_right")
    return c.mutate(customer_name=ibis.null("string"))


def _consultations(wh: Warehouse) -> pd.DataFrame:
    """Every consultation, in consultation id order.

    One defined order (a join's output has none), so the classifier's folds and its held-out split are
    the same on every run and on every engine.
    """
    frame = consultation_rows(wh).to_pandas()
    return frame.sort_values("consultation_id", kind="stable").reset_index(drop=True)


def consultation_terms(wh: Warehouse, settings: Settings) -> tuple:
    """The tokenizer's extra dictionary: the user dictionaries and the warehouse's model names."""
    from carsight.voc.tokenise import load_terms, model_terms

    models: list[str] = []
    if wh.has_table(S.VEHICLES.name):
        models = wh.table(S.VEHICLES.name).select("model").to_pandas()["model"].dropna().tolist()
    extra_paths = settings.voc_dictionary
    return load_terms(extra_paths, builtin=False) + model_terms(models)


def mask_texts(texts: pd.Series, names: pd.Series) -> list[str]:
    """Each text cleaned and masked, its customer's name (when known) masked wherever it occurs."""
    from carsight.voc.normalise import clean_and_mask

    known = names.where(names.notna(), None)
    return [
        clean_and_mask(text, (name,) if isinstance(name, str) else ())
        for text, name in zip(texts.tolist(), known.tolist(), strict=True)
    ]


def texts_changed(texts: pd.Series, masked: list[str]) -> np.ndarray:
    """Whether masking (or clean-up) changed each text (a missing text counts as empty)."""
    return np.array([a != b for a, b in zip(texts.fillna("").tolist(), masked, strict=True)], dtype=bool)


def stored_texts(texts: pd.Series, masked: list[str]) -> list:
    """What the source table keeps: the masked text where there was one, a missing text as it was."""
    return [m if isinstance(o, str) else o for o, m in zip(texts.tolist(), masked, strict=True)]


def consultation_dates(consulted_at: pd.Series) -> pd.Series:
    """The day of each consultation."""
    return consulted_at.dt.normalize().dt.date


def is_labelled(categories: pd.Series) -> np.ndarray:
    """Whether each consultation has an agent's label (not missing, not blank)."""
    labelled = categories.notna() & (categories.astype("string").str.strip() != "")
    return labelled.to_numpy(dtype=bool)


def topic_labels(categories: pd.Series) -> list[str]:
    """The agents' labels as the classifier learns them."""
    return categories.astype(str).str.strip().tolist()


def classifier_params(settings: Settings, terms: tuple) -> dict:
    """The topic classifier's parameters."""
    return {"review_threshold": settings.voc_review_threshold, "terms": terms}


def metrics_rows(report: dict, trained_at: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``voc_model_metrics`` and ``voc_confusion`` of a held-out evaluation."""
    rows, confusion = [], []
    for key, name in (("model", "topic_classifier"), ("baseline", "baseline")):
        part = report[key]
        for metric in ("accuracy", "macro_f1", "needs_review_share", "accuracy_when_confident"):
            if metric in part and part[metric] is not None:
                rows.append((trained_at, name, metric, float(part[metric]), report["n_train"], report["n_test"]))
        for i, true in enumerate(report["labels"]):
            for j, pred in enumerate(report["labels"]):
                confusion.append((name, true, pred, int(part["confusion"][i][j])))
    metrics = pd.DataFrame(rows, columns=["trained_at", "model_name", "metric", "value", "n_train", "n_test"])
    metrics["note"] = report.get("warning")
    return metrics, pd.DataFrame(confusion, columns=["model_name", "true_label", "predicted_label", "count"])


def no_confusion() -> pd.DataFrame:
    """``voc_confusion`` without a classifier."""
    return pd.DataFrame(columns=[c.name for c in R.VOC_CONFUSION.columns])


def fit_classifier(
    texts: list[str], labels: list[str], params: dict, settings: Settings, words: dict
) -> tuple[TopicClassifier, dict]:
    """Evaluate the topic classifier, fit it on ``texts`` and save it; returns the model and the evaluation.

    The evaluation is :func:`carsight.voc.classify.evaluate` (a held-out split, against the baseline);
    it is saved with the model. It runs in a second process (:func:`carsight.voc.held_out.held_out_report`) while this
    one fits the final model, so on two cores the two take about as long as the longer one, with the
    results each gives alone. ``words`` is the tokenizer's word cache, handed to that process.

    Raises
    ------
    DataTooThinError
        When the labels cannot train or evaluate a classifier (nothing is saved then).
    """
    from carsight.apart import Apart
    from carsight.registry import save_model
    from carsight.voc.classify import MODEL_KIND, TopicClassifier
    from carsight.voc.held_out import held_out_report

    held_out = Apart(held_out_report, texts, labels, params, words)
    try:
        model = TopicClassifier(**params).fit(texts, labels)
    except BaseException:
        held_out.stop()
        raise
    report = held_out.result()
    save_model(
        settings.model_dir / "voc_topic",
        model,
        kind=MODEL_KIND,
        params=model.get_params(),
        metrics={k: report[k] for k in ("model", "baseline", "n_train", "n_test", "labels", "warning")},
        data=pd.DataFrame({"text": texts, "label": labels}),
    )
    return model, report


def classifier_summary(report: dict, needs_review: int) -> dict:
    """The step summary's lines about the classifier."""
    summary = {
        "macro_f1": round(report["model"]["macro_f1"], 3),
        "baseline_macro_f1": round(report["baseline"]["macro_f1"], 3),
        "needs_review": int(needs_review),
    }
    if report.get("warning"):
        summary["warning"] = report["warning"]
    return summary


def discover(
    texts: list[str], n_texts: int, terms: tuple, n_labelled: int, note: str, trained_at: pd.Timestamp
) -> tuple[TopicDiscovery | None, pd.DataFrame, str]:
    """Without enough labels: topics discovered in ``texts`` when there are enough of them.

    ``n_texts`` is the number of consultations (``texts`` may be a sample of them): it sets how many
    topics are worth splitting. Every text is then marked for review. Returns the fitted discovery
    (None when too few texts), the metrics row that says so, and the note.
    """
    from carsight.voc.topics import TopicDiscovery

    k = int(min(10, n_texts // TEXTS_PER_DISCOVERED_TOPIC))
    discovery = None
    if k >= 2:
        discovery = TopicDiscovery(k=k, terms=terms).fit(texts)
        note += f"; {k} topics discovered without labels"
    metrics = pd.DataFrame(
        [(trained_at, "topic_classifier", "labelled_texts", float(n_labelled), None, None, note)],
        columns=[c.name for c in R.VOC_MODEL_METRICS.columns],
    )
    return discovery, metrics, note


def topic_names(discovery: TopicDiscovery, topics: np.ndarray) -> list[str | None]:
    """The name of each discovered topic number (None for -1: a text with no known word)."""
    names_by_topic = dict(zip(discovery.topics_["topic"], discovery.topics_["label"], strict=True))
    return [names_by_topic.get(int(t)) for t in topics]


def word_cache_dir(settings: Settings) -> Path:
    """Where Kiwi's analysis of each word is kept between runs."""
    return Path(settings.model_dir) / WORD_CACHE_DIR


def run(wh: Warehouse, settings: Settings) -> dict:
    """Mask, classify and aggregate consultations; returns a short summary."""
    # One BLAS/OpenMP thread: the linear models here are small, and on a shared machine extra threads
    # spin for a core instead of computing (the logistic baseline took 15 s instead of 1 s under load).
    with threadpool_limits(1):
        return _run(wh, settings)


def _run(wh: Warehouse, settings: Settings) -> dict:
    from carsight.voc.aggregate import build_daily, monthly_mentions, rising_by_month
    from carsight.voc.tokenise import Tokenizer, detect_language, load_word_cache, save_word_cache

    if not wh.has_table(S.CONSULTATIONS.name) or wh.count(S.CONSULTATIONS.name) == 0:
        return {"consultations": 0}
    frame = _consultations(wh)
    tokenizer = Tokenizer(consultation_terms(wh, settings))
    # Kiwi's analysis of every word seen by earlier runs is kept beside the models: a re-run analyses
    # only new words, and builds Kiwi (seconds) only when there are some. A first run builds it in
    # the background while the texts are masked.
    words_dir = word_cache_dir(settings)
    warming = None if load_word_cache(words_dir, tokenizer) else tokenizer.warm_up()
    original = frame["text"]
    masked = mask_texts(original, frame["customer_name"])
    frame["text_masked"] = masked
    changed = int(texts_changed(original, masked).sum())

    # Nothing unmasked stays in the warehouse unless the configuration allows it.
    if not settings.store_unmasked_text and changed:
        source = frame[S.CONSULTATIONS.column_names].copy()
        source["text"] = stored_texts(original, masked)
        wh.upsert(S.CONSULTATIONS, source)

    if warming is not None:
        warming.join()
    tokens = tokenizer.tokenize_many(masked)
    frame["lang"] = [detect_language(t) for t in masked]
    frame["date"] = consultation_dates(frame["consulted_at"])

    labelled = is_labelled(frame["category"])
    summary: dict = {"consultations": len(frame), "texts_masked": changed, "labelled": int(labelled.sum())}
    trained_at = pd.Timestamp(dt.datetime.now().replace(microsecond=0))
    texts = frame.loc[labelled, "text_masked"].tolist()
    labels = topic_labels(frame.loc[labelled, "category"])
    params = classifier_params(settings, tokenizer.terms)
    try:
        model, report = fit_classifier(texts, labels, params, settings, dict(tokenizer._cache))
    except DataTooThinError as exc:
        discovery, metrics, summary["warning"] = discover(
            frame["text_masked"].tolist(),
            len(frame),
            tokenizer.terms,
            int(labelled.sum()),
            f"no classifier: {exc}",
            trained_at,
        )
        frame["topic"] = None if discovery is None else topic_names(discovery, discovery.labels_)
        frame["confidence"] = np.nan
        frame["needs_review"] = True
        confusion = no_confusion()
    else:
        predicted = model.review(frame["text_masked"].tolist())
        frame["topic"] = predicted["label"].to_numpy()
        frame["confidence"] = predicted["confidence"].to_numpy()
        frame["needs_review"] = predicted["needs_review"].to_numpy()
        summary.update(classifier_summary(report, int(frame["needs_review"].sum())))
        metrics, confusion = metrics_rows(report, trained_at)

    keyword_daily, topic_daily = build_daily(frame, tokens)
    rising = rising_by_month(*monthly_mentions(frame["consulted_at"].dt.to_period("M"), tokens))
    wh.replace(R.VOC_CONSULTATIONS, frame[[c.name for c in R.VOC_CONSULTATIONS.columns]])
    wh.replace(R.VOC_KEYWORD_DAILY, keyword_daily)
    wh.replace(R.VOC_TOPIC_DAILY, topic_daily)
    wh.replace(R.VOC_RISING, rising[[c.name for c in R.VOC_RISING.columns]])
    wh.replace(R.VOC_MODEL_METRICS, metrics)
    wh.replace(R.VOC_CONFUSION, confusion)
    save_word_cache(words_dir, tokenizer)
    summary.update(
        keyword_rows=len(keyword_daily),
        rising_significant=int(rising["significant"].sum()) if len(rising) else 0,
    )
    return summary

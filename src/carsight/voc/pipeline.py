"""The VoC pipeline step.

Mask consultation text in the warehouse, classify topics (trained on the agents' labels and checked
against a baseline on a held-out split), and store the daily keyword and topic aggregates and rising
keywords the dashboard reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from carsight.config import Settings
from carsight.errors import DataTooThinError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_voc as R
from carsight.warehouse import schema as S

log = logging.getLogger(__name__)

DEFAULT_REVIEW_THRESHOLD = 0.5
# Without labels, topics are discovered; fewer texts than this per topic are not worth splitting.
TEXTS_PER_DISCOVERED_TOPIC = 30
# Under settings.model_dir: Kiwi's analysis of each word, kept between runs.
WORD_CACHE_DIR = "voc_tokens"


def _consultations(wh: Warehouse) -> pd.DataFrame:
    c = wh.table(S.CONSULTATIONS.name)
    if wh.has_table(S.CUSTOMERS.name):
        cust = wh.table(S.CUSTOMERS.name).select("customer_id", customer_name="name")
        c = c.left_join(cust, c.customer_id == cust.customer_id).drop("customer_id_right")
        return c.to_pandas()
    frame = c.to_pandas()
    frame["customer_name"] = None
    return frame


def _terms(wh: Warehouse, settings: Settings) -> tuple:
    from carsight.voc.tokenise import load_terms, model_terms

    models: list[str] = []
    if wh.has_table(S.VEHICLES.name):
        models = wh.table(S.VEHICLES.name).select("model").to_pandas()["model"].dropna().tolist()
    extra_paths = settings.voc_dictionary
    return load_terms(extra_paths, builtin=False) + model_terms(models)


def _metrics_rows(report: dict, trained_at: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def _rising(frame: pd.DataFrame, tokens: list[list[str]]) -> pd.DataFrame:
    """Rising keywords of every month against the month before (the dashboard picks the period)."""
    from carsight.voc.keywords import rising_keywords

    months = frame["consulted_at"].dt.to_period("M").to_numpy()
    parts = []
    for current in sorted(set(months)):
        cur = [tokens[i] for i in np.flatnonzero(months == current)]
        prev = [tokens[i] for i in np.flatnonzero(months == current - 1)]
        if cur and prev:
            parts.append(rising_keywords(cur, prev, period=str(current), min_count=5))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=[c.name for c in R.VOC_RISING.columns])
    return pd.concat(parts, ignore_index=True)


def _classify(
    frame: pd.DataFrame, texts: list[str], labels: list[str], params: dict, settings, words: dict
) -> tuple[dict, dict]:
    """Evaluate the topic classifier, fit it on every labelled text, review every text and save it.

    The evaluation is :func:`carsight.voc.classify.evaluate` (a held-out split, against the baseline);
    it is saved with the model. It runs in a second process (:func:`carsight.voc.held_out.held_out_report`) while this
    one fits the final model, so on two cores the two take about as long as the longer one, with the
    results each gives alone. ``words`` is the tokenizer's word cache, handed to that process.
    Returns the evaluation report and the summary.

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
    predicted = model.review(frame["text_masked"].tolist())
    frame["topic"] = predicted["label"].to_numpy()
    frame["confidence"] = predicted["confidence"].to_numpy()
    frame["needs_review"] = predicted["needs_review"].to_numpy()
    save_model(
        settings.model_dir / "voc_topic",
        model,
        kind=MODEL_KIND,
        params=model.get_params(),
        metrics={k: report[k] for k in ("model", "baseline", "n_train", "n_test", "labels", "warning")},
        data=pd.DataFrame({"text": texts, "label": labels}),
    )
    summary = {
        "macro_f1": round(report["model"]["macro_f1"], 3),
        "baseline_macro_f1": round(report["baseline"]["macro_f1"], 3),
        "needs_review": int(frame["needs_review"].sum()),
    }
    if report.get("warning"):
        summary["warning"] = report["warning"]
    return report, summary


def _discover(
    frame: pd.DataFrame, terms: tuple, n_labelled: int, note: str, trained_at: pd.Timestamp
) -> tuple[pd.DataFrame, str]:
    """Without enough labels: topics discovered in the texts (when there are enough), all marked for review.

    Returns the metrics row that says so, and the note.
    """
    from carsight.voc.topics import TopicDiscovery

    k = int(min(10, len(frame) // TEXTS_PER_DISCOVERED_TOPIC))
    frame["confidence"] = np.nan
    frame["needs_review"] = True
    if k >= 2:
        discovery = TopicDiscovery(k=k, terms=terms).fit(frame["text_masked"].tolist())
        names_by_topic = dict(zip(discovery.topics_["topic"], discovery.topics_["label"], strict=True))
        frame["topic"] = [names_by_topic.get(int(t)) for t in discovery.labels_]
        note += f"; {k} topics discovered without labels"
    else:
        frame["topic"] = None
    metrics = pd.DataFrame(
        [(trained_at, "topic_classifier", "labelled_texts", float(n_labelled), None, None, note)],
        columns=[c.name for c in R.VOC_MODEL_METRICS.columns],
    )
    return metrics, note


def run(wh: Warehouse, settings: Settings) -> dict:
    """Mask, classify and aggregate consultations; returns a short summary."""
    # One BLAS/OpenMP thread: the linear models here are small, and on a shared machine extra threads
    # spin for a core instead of computing (the logistic baseline took 15 s instead of 1 s under load).
    with threadpool_limits(1):
        return _run(wh, settings)


def _run(wh: Warehouse, settings: Settings) -> dict:
    from carsight.voc.aggregate import build_daily
    from carsight.voc.normalise import clean_and_mask
    from carsight.voc.tokenise import Tokenizer, detect_language, load_word_cache, save_word_cache

    if not wh.has_table(S.CONSULTATIONS.name) or wh.count(S.CONSULTATIONS.name) == 0:
        return {"consultations": 0}
    frame = _consultations(wh)
    tokenizer = Tokenizer(_terms(wh, settings))
    # Kiwi's analysis of every word seen by earlier runs is kept beside the models: a re-run analyses
    # only new words, and builds Kiwi (seconds) only when there are some. A first run builds it in
    # the background while the texts are masked.
    words_dir = Path(settings.model_dir) / WORD_CACHE_DIR
    warming = None if load_word_cache(words_dir, tokenizer) else tokenizer.warm_up()
    original = frame["text"]
    names = frame["customer_name"].where(frame["customer_name"].notna(), None)
    masked = [
        clean_and_mask(text, (name,) if isinstance(name, str) else ())
        for text, name in zip(original.tolist(), names.tolist(), strict=True)
    ]
    frame["text_masked"] = masked
    changed = int(sum(1 for a, b in zip(original.fillna("").tolist(), masked, strict=True) if a != b))

    # Nothing unmasked stays in the warehouse unless the configuration allows it.
    if not settings.store_unmasked_text and changed:
        source = frame[S.CONSULTATIONS.column_names].copy()
        source["text"] = [m if isinstance(o, str) else o for o, m in zip(original.tolist(), masked, strict=True)]
        wh.upsert(S.CONSULTATIONS, source)

    if warming is not None:
        warming.join()
    tokens = tokenizer.tokenize_many(masked)
    frame["lang"] = [detect_language(t) for t in masked]
    frame["date"] = frame["consulted_at"].dt.normalize().dt.date

    threshold = settings.voc_review_threshold
    labelled = frame["category"].notna() & (frame["category"].astype("string").str.strip() != "")
    summary: dict = {"consultations": len(frame), "texts_masked": changed, "labelled": int(labelled.sum())}
    trained_at = pd.Timestamp(dt.datetime.now().replace(microsecond=0))
    params = {"review_threshold": threshold, "terms": tokenizer.terms}
    texts = frame.loc[labelled, "text_masked"].tolist()
    labels = frame.loc[labelled, "category"].astype(str).str.strip().tolist()
    try:
        report, classified = _classify(frame, texts, labels, params, settings, dict(tokenizer._cache))
        summary.update(classified)
        metrics, confusion = _metrics_rows(report, trained_at)
    except DataTooThinError as exc:
        metrics, summary["warning"] = _discover(
            frame, tokenizer.terms, int(labelled.sum()), f"no classifier: {exc}", trained_at
        )
        confusion = pd.DataFrame(columns=[c.name for c in R.VOC_CONFUSION.columns])

    keyword_daily, topic_daily = build_daily(frame, tokens)
    rising = _rising(frame, tokens)
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

"""The "voc" pipeline step on a Spark warehouse.

The step of :mod:`carsight.voc.pipeline` (mask, classify and aggregate consultations) with every
consultation's text handled on the executors and only a bounded sample and aggregates on the driver.

On the executors (:func:`~carsight.warehouse.spark_scoring.rows_on_executors`, per partition):
masking, language detection and tokenising of every text, with the tokenizer and its word cache
broadcast (Kiwi is built in an executor's process only when a text there has a word the cache lacks);
the masked text written back to the source table when the DuckDB step writes it (an upsert whose
rows never leave the executors); every text's topic, confidence and needs-review flag, with the
classifier fitted on the driver broadcast; the daily keyword and topic counts and the monthly keyword
counts the rising keywords are tested on (Spark aggregates over each text's keywords, an array
column exploded and grouped).

What comes to the driver (docs/scale.md): the masked texts and labels of at most
:data:`SAMPLE_TEXTS` labelled consultations (drawn by a hash of the consultation id when there are
more; below that every labelled text, so a small warehouse gets exactly the DuckDB step's model and
results), to fit the classifier and its held-out evaluation (without enough labels: at most as many
texts of any kind, to discover topics); the words the executors analysed that the saved word cache
lacked (at most the tokenizer's cache size), merged into the cache saved for the next run; and
aggregates: row counts, texts per month, and the month × keyword counts the rising-keyword test
reads (keywords mentioned :data:`~carsight.voc.aggregate.RISING_MIN_COUNT` times or more in a month,
and their counts the month before).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as SF
from pyspark.sql import types as ST
from threadpoolctl import threadpool_limits

from carsight.config import Settings
from carsight.customers.features import customer_sample
from carsight.errors import DataTooThinError
from carsight.voc import pipeline as P
from carsight.voc.aggregate import DAILY_KEYS, KEYWORD_DAILY_ORDER, RISING_MIN_COUNT, mentioned, rising_by_month
from carsight.voc.classify import TopicClassifier
from carsight.voc.tokenise import (
    Tokenizer,
    detect_language,
    load_word_cache,
    save_word_cache,
    split_tokens,
    tokens_to_text,
)
from carsight.voc.topics import TopicDiscovery
from carsight.warehouse import results_voc as R
from carsight.warehouse import schema as S
from carsight.warehouse.spark import SparkWarehouse, spark_schema
from carsight.warehouse.spark_scoring import rows_on_executors

# Texts the classifier (or, without labels, the topic discovery) is fitted on at most; with more,
# a sample drawn by a hash of the consultation id. The fit and its held-out evaluation hold the texts
# and their TF-IDF matrices on the driver: 100,000 texts are a few hundred MB.
SAMPLE_TEXTS = 100_000
# Columns the executors add to every consultation: its keywords (each once, :func:`mentioned`), whether
# it has an agent's label, whether masking changed its text, and the words of its text that the
# broadcast word cache lacked, each with Kiwi's analysis (``word token token…``).
KEYWORDS = "keywords"
LABELLED = "labelled"
CHANGED = "changed"
LEARNED = "learned_words"
# The word caches this Python process has loaded, by broadcast: loaded once per process, not per task.
_WORDS_LOADED: set[str] = set()
_STRINGS = ST.ArrayType(ST.StringType())


def run_on_spark(wh: SparkWarehouse, settings: Settings) -> dict:
    """The voc step on Spark: what :func:`carsight.voc.pipeline.run` writes, with the same summary."""
    # One BLAS/OpenMP thread, as on DuckDB (the classifier and its baseline are small linear models).
    with threadpool_limits(1):
        return _run(wh, settings)


def _run(wh: SparkWarehouse, settings: Settings) -> dict:
    if not wh.has_table(S.CONSULTATIONS.name) or wh.count(S.CONSULTATIONS.name) == 0:
        return {"consultations": 0}
    tokenizer = Tokenizer(P.consultation_terms(wh, settings))
    words_dir = P.word_cache_dir(settings)
    load_word_cache(words_dir, tokenizer)
    prepared = rows_on_executors(
        wh, P.consultation_rows(wh), _prepare_batch, (tokenizer, *_words(tokenizer)), _prepared_schema()
    )
    with wh.cached(prepared) as consultations:
        totals = wh.frame_of(consultations).agg(
            SF.count(SF.lit(1)).alias("consultations"),
            SF.sum(SF.col(CHANGED).cast("long")).alias("changed"),
            SF.sum(SF.col(LABELLED).cast("long")).alias("labelled"),
        )
        count, changed, labelled = (int(v or 0) for v in totals.collect()[0])
        # Nothing unmasked stays in the warehouse unless the configuration allows it.
        if not settings.store_unmasked_text and changed:
            wh.upsert(S.CONSULTATIONS, _stored_source(wh.frame_of(consultations)))
        _learn_words(wh.frame_of(consultations), tokenizer)
        summary: dict = {"consultations": count, "texts_masked": changed, "labelled": labelled}
        topics = _topics(wh, consultations, count, labelled, tokenizer, settings)
        with wh.cached(topics.consultations) as reviewed:
            frame = wh.frame_of(reviewed)
            wh.replace(R.VOC_CONSULTATIONS, frame)
            if topics.report is not None:
                needs_review = frame.filter(SF.col("needs_review")).count()
                summary.update(P.classifier_summary(topics.report, needs_review))
            else:
                summary["warning"] = topics.note
            keyword_rows = wh.replace(R.VOC_KEYWORD_DAILY, _keyword_daily(frame))
            wh.replace(R.VOC_TOPIC_DAILY, frame.groupBy(*DAILY_KEYS).count())
            rising = rising_by_month(*_monthly_mentions(frame))
    wh.replace(R.VOC_RISING, rising[[c.name for c in R.VOC_RISING.columns]])
    wh.replace(R.VOC_MODEL_METRICS, topics.metrics)
    wh.replace(R.VOC_CONFUSION, topics.confusion)
    save_word_cache(words_dir, tokenizer)
    summary.update(
        keyword_rows=keyword_rows,
        rising_significant=int(rising["significant"].sum()) if len(rising) else 0,
    )
    if topics.fitted_on < (labelled if topics.report is not None else count):
        summary["training sample"] = f"{topics.fitted_on:,} texts (by a hash of the consultation id)"
    return summary


def _words(tokenizer: Tokenizer) -> tuple[dict, str]:
    """The word cache the executors tokenise with, and a name for it (each process loads it once)."""
    return dict(tokenizer._cache), uuid.uuid4().hex


def _with_words(tokenizer: Tokenizer, words: dict, name: str) -> Tokenizer:
    """``tokenizer``, with the broadcast word cache ``name`` loaded into this process's cache once."""
    if name not in _WORDS_LOADED:
        tokenizer._cache.update(words)
        _WORDS_LOADED.add(name)
    return tokenizer


def _prepared_schema() -> ST.StructType:
    return ST.StructType(
        [
            *spark_schema(S.CONSULTATIONS).fields,
            ST.StructField("text_masked", ST.StringType()),
            ST.StructField("lang", ST.StringType()),
            ST.StructField("date", ST.DateType()),
            ST.StructField(KEYWORDS, _STRINGS),
            ST.StructField(LABELLED, ST.BooleanType()),
            ST.StructField(CHANGED, ST.BooleanType()),
            ST.StructField(LEARNED, _STRINGS),
        ]
    )


def _prepare_batch(shared: tuple[Tokenizer, dict, str], batch: pd.DataFrame) -> pd.DataFrame:
    """A batch of consultations masked, tokenised and dated, as the DuckDB step does them."""
    tokenizer = _with_words(*shared)
    known = shared[1]
    masked = P.mask_texts(batch["text"], batch["customer_name"])
    tokens = tokenizer.tokenize_many(masked)
    cache = tokenizer._cache
    out = batch[S.CONSULTATIONS.column_names].copy()
    out["text_masked"] = masked
    out["lang"] = [detect_language(t) for t in masked]
    out["date"] = P.consultation_dates(batch["consulted_at"])
    out[KEYWORDS] = [mentioned(t) for t in tokens]
    out[LABELLED] = P.is_labelled(batch["category"])
    out[CHANGED] = P.texts_changed(batch["text"], masked)
    out[LEARNED] = [
        [tokens_to_text((word, *cache[word])) for word in dict.fromkeys(words) if word not in known] if words else []
        for words in tokenizer.korean_words(masked)
    ]
    return out


def _stored_source(consultations: SparkFrame) -> SparkFrame:
    """The source rows with the masked text where there was one (:func:`carsight.voc.pipeline.stored_texts`)."""
    text = SF.when(SF.col("text").isNotNull(), SF.col("text_masked"))
    return consultations.select(*[text.alias(c) if c == "text" else SF.col(c) for c in S.CONSULTATIONS.column_names])


def _learn_words(consultations: SparkFrame, tokenizer: Tokenizer) -> None:
    """Add the words the executors analysed to the driver's word cache (saved for the next run).

    At most as many as the cache may still hold (``Tokenizer.max_cache``): beyond that the next run
    analyses the rest again, as the DuckDB step does after clearing a full cache.
    """
    cache = tokenizer._cache
    room = max(tokenizer.max_cache - len(cache), 0)
    if not room:
        return
    learned = consultations.select(SF.explode(LEARNED).alias("entry")).distinct().limit(room)
    for entry in learned.toPandas()["entry"]:
        word, *tokens = split_tokens(entry)
        cache.setdefault(word, tuple(tokens))


@dataclass
class _Topics:
    """Every consultation with its topic (unevaluated), what the driver fitted, and how many texts it saw.

    ``report``: the classifier's held-out evaluation (None when topics were discovered, ``note`` says why).
    """

    consultations: SparkFrame
    metrics: pd.DataFrame
    confusion: pd.DataFrame
    fitted_on: int
    report: dict | None = None
    note: str | None = None


def _topics(
    wh: SparkWarehouse, consultations: ir.Table, count: int, labelled: int, tokenizer: Tokenizer, settings: Settings
) -> _Topics:
    """Every consultation's topic: the classifier fitted on the driver reviews each text on the executors.

    The classifier is fitted over the labelled texts (a sample when more than :data:`SAMPLE_TEXTS`) in
    consultation id order, as on DuckDB. Without enough labels, topics are discovered in (a sample of)
    every text instead.
    """
    trained_at = pd.Timestamp(dt.datetime.now().replace(microsecond=0))
    training = _sample(consultations.filter(consultations[LABELLED]), labelled, "category")
    texts, labels = training["text_masked"].tolist(), P.topic_labels(training["category"])
    params = P.classifier_params(settings, tokenizer.terms)
    inputs = consultations.select(*[c.name for c in R.VOC_CONSULTATIONS.columns if c.name not in _REVIEWED], KEYWORDS)
    schema = ST.StructType([*spark_schema(R.VOC_CONSULTATIONS).fields, ST.StructField(KEYWORDS, _STRINGS)])
    try:
        model, report = P.fit_classifier(texts, labels, params, settings, dict(tokenizer._cache))
    except DataTooThinError as exc:
        fitted = _sample(consultations, count)
        discovery, metrics, note = P.discover(
            fitted["text_masked"].tolist(), count, tokenizer.terms, labelled, f"no classifier: {exc}", trained_at
        )
        # The texts the discovery was fitted on keep the topic the fit gave them (as on DuckDB, where
        # that is every text); the others get the topic it predicts.
        fit_topics = {} if discovery is None else dict(zip(fitted["consultation_id"], discovery.labels_, strict=True))
        shared = (discovery, fit_topics, *_words(tokenizer))
        discovered = rows_on_executors(wh, inputs, _discovered_batch, shared, schema)
        return _Topics(discovered, metrics, P.no_confusion(), len(fitted), note=note)
    metrics, confusion = P.metrics_rows(report, trained_at)
    reviewed = rows_on_executors(wh, inputs, _reviewed_batch, (model, *_words(tokenizer)), schema)
    return _Topics(reviewed, metrics, confusion, len(texts), report=report)


def _sample(rows: ir.Table, count: int, *columns: str) -> pd.DataFrame:
    """At most about :data:`SAMPLE_TEXTS` of ``count`` rows' ids and masked texts, in consultation id order.

    Drawn by a hash of the consultation id when there are more (the same texts on every run).
    """
    sample = customer_sample(count, SAMPLE_TEXTS)  # a condition on any id column, by its hash
    if sample is not None:
        rows = rows.filter(sample(rows.consultation_id))
    return rows.select("consultation_id", "text_masked", *columns).order_by("consultation_id").to_pandas()


# What the review computes; the other columns of ``voc_consultations`` come from the prepared rows.
_REVIEWED = ("topic", "confidence", "needs_review")


def _reviewed_batch(shared: tuple[TopicClassifier, dict, str], batch: pd.DataFrame) -> pd.DataFrame:
    """A batch of consultations with the classifier's topic, confidence and review flag."""
    model, words, name = shared
    _with_words(model.tokenizer_, words, name)
    predicted = model.review(batch["text_masked"].tolist())
    out = batch.copy()
    out["topic"] = predicted["label"].to_numpy()
    out["confidence"] = predicted["confidence"].to_numpy()
    out["needs_review"] = predicted["needs_review"].to_numpy()
    return out


def _discovered_batch(shared: tuple[TopicDiscovery | None, dict, dict, str], batch: pd.DataFrame) -> pd.DataFrame:
    """A batch of consultations with their discovered topic, every one marked for review."""
    discovery, fit_topics, words, name = shared
    out = batch.copy()
    out["confidence"] = float("nan")
    out["needs_review"] = True
    if discovery is None:
        out["topic"] = None
        return out
    _with_words(discovery.tokenizer_, words, name)
    numbers = batch["consultation_id"].map(fit_topics)
    unseen = numbers.isna().to_numpy()
    if unseen.any():
        numbers[unseen] = discovery.predict(batch.loc[unseen, "text_masked"].tolist())
    out["topic"] = P.topic_names(discovery, numbers.to_numpy())
    return out


def _keyword_daily(consultations: SparkFrame) -> SparkFrame:
    """``voc_keyword_daily``: consultations per day, model, topic and keyword, in its stored order."""
    exploded = consultations.select(*DAILY_KEYS, SF.explode(KEYWORDS).alias("keyword"))
    return exploded.groupBy(*DAILY_KEYS, "keyword").count().orderBy(*KEYWORD_DAILY_ORDER)


def _monthly_mentions(consultations: SparkFrame) -> tuple[pd.DataFrame, pd.Series]:
    """What :func:`carsight.voc.aggregate.rising_by_month` reads, aggregated by the executors.

    The texts per month, and the month × keyword counts it tests: keywords mentioned
    :data:`RISING_MIN_COUNT` times or more in a month, with their counts the month before.
    """
    months = consultations.select(SF.trunc("date", "month").alias("month"), KEYWORDS)
    texts = months.groupBy("month").count().toPandas()
    mentions = months.select("month", SF.explode(KEYWORDS).alias("keyword")).groupBy("month", "keyword").count()
    tested = mentions.filter(SF.col("count") >= RISING_MIN_COUNT)
    before = mentions.join(
        tested.select(SF.add_months("month", -1).alias("month"), "keyword"), ["month", "keyword"], "left_semi"
    )
    needed = tested.unionByName(before).distinct().toPandas()
    needed["month"] = _periods(needed["month"])
    return needed, pd.Series(texts["count"].to_numpy(), index=_periods(texts["month"]))


def _periods(days: pd.Series) -> pd.PeriodIndex:
    return pd.PeriodIndex(pd.to_datetime(days), freq="M")

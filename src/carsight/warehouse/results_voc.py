"""Result tables of the voice-of-the-customer step (masked consultations, topics, keyword and topic
counts per day, rising keywords, classifier metrics)."""

from __future__ import annotations

from carsight.warehouse.schema import Table, _c

VOC_CONSULTATIONS = "voc_consultations"
VOC_KEYWORD_DAILY = "voc_keyword_daily"
VOC_TOPIC_DAILY = "voc_topic_daily"
VOC_RISING = "voc_rising"
VOC_MODEL_METRICS = "voc_model_metrics"
VOC_CONFUSION = "voc_confusion"

CONSULTATIONS = Table(
    VOC_CONSULTATIONS,
    (
        _c("consultation_id", "string", False, "Consultation number"),
        _c("consulted_at", "timestamp", False, "When the consultation happened"),
        _c("date", "date", False, "Day of the consultation"),
        _c("model", "string", True, "Model the customer called about"),
        _c("channel", "string", True, "phone, chat, email, app, …"),
        _c("category", "string", True, "Topic label given by the agent"),
        _c("topic", "string", True, "Topic predicted by the classifier (or discovered, without labels)"),
        _c("confidence", "float64", True, "Calibrated probability of the predicted topic"),
        _c("needs_review", "boolean", True, "Confidence below the review threshold"),
        _c("text_masked", "string", True, "Text with personal data masked"),
        _c("lang", "string", True, "ko, en or und"),
    ),
    keys=("consultation_id",),
    description="Masked, classified consultations.",
    kind="result",
    date_column="consulted_at",
)

KEYWORD_DAILY = Table(
    VOC_KEYWORD_DAILY,
    (
        _c("date", "date", False, "Day"),
        _c("model", "string", True, "Model"),
        _c("topic", "string", True, "Predicted topic"),
        _c("keyword", "string", False, "Keyword (morpheme, dictionary compound or model code)"),
        _c("count", "int64", False, "Consultations that day mentioning the keyword"),
    ),
    description="Keyword mentions per day, model and topic (pre-aggregated for fast filtering).",
    kind="result",
    date_column="date",
)

TOPIC_DAILY = Table(
    VOC_TOPIC_DAILY,
    (
        _c("date", "date", False, "Day"),
        _c("model", "string", True, "Model"),
        _c("topic", "string", True, "Predicted topic"),
        _c("count", "int64", False, "Consultations"),
    ),
    description="Consultations per day, model and topic.",
    kind="result",
    date_column="date",
)

RISING = Table(
    VOC_RISING,
    (
        _c("period", "string", False, "Period tested (YYYY-MM), against the month before"),
        _c("keyword", "string", False, "Keyword"),
        _c("count", "int64", False, "Consultations mentioning it this period"),
        _c("previous", "int64", False, "Consultations mentioning it the period before"),
        _c("ratio", "float64", False, "Share this period / share the period before"),
        _c("p_value", "float64", False, "One-sided Fisher exact test (more mentions than the period before)"),
        _c("q_value", "float64", False, "Benjamini-Hochberg adjusted p-value"),
        _c("significant", "boolean", False, "q_value below 0.05"),
    ),
    description="Keywords rising this period against the previous one.",
    kind="result",
)

MODEL_METRICS = Table(
    VOC_MODEL_METRICS,
    (
        _c("trained_at", "timestamp", False, "When the evaluation ran"),
        _c("model_name", "string", False, "topic_classifier or baseline"),
        _c("metric", "string", False, "accuracy, macro_f1, needs_review_share, …"),
        _c("value", "float64", True, "Value on the held-out split"),
        _c("n_train", "int64", True, "Training texts"),
        _c("n_test", "int64", True, "Held-out texts"),
        _c("note", "string", True, "Warnings (thin data) or what was done instead"),
    ),
    description="Held-out metrics of the topic classifier and its baseline on the same split.",
    kind="result",
    date_column="trained_at",
)

CONFUSION = Table(
    VOC_CONFUSION,
    (
        _c("model_name", "string", False, "topic_classifier or baseline"),
        _c("true_label", "string", False, "Agent's label"),
        _c("predicted_label", "string", False, "Predicted label"),
        _c("count", "int64", False, "Held-out texts"),
    ),
    description="Confusion matrices on the held-out split.",
    kind="result",
)

TABLES = (CONSULTATIONS, KEYWORD_DAILY, TOPIC_DAILY, RISING, MODEL_METRICS, CONFUSION)

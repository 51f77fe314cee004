"""Result tables of the voice-of-the-customer step.

Masked consultations, topics, keyword and topic counts per day, rising keywords, classifier metrics.
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

VOC_CONSULTATIONS = Table(
    "voc_consultations",
    (
        column("consultation_id", "string", "Consultation number", nullable=False),
        column("consulted_at", "timestamp", "When the consultation happened", nullable=False),
        column("date", "date", "Day of the consultation", nullable=False),
        column("model", "string", "Model the customer called about"),
        column("channel", "string", "phone, chat, email, app, …"),
        column("category", "string", "Topic label given by the agent"),
        column("topic", "string", "Topic predicted by the classifier (or discovered, without labels)"),
        column("confidence", "float64", "Calibrated probability of the predicted topic"),
        column("needs_review", "boolean", "Confidence below the review threshold"),
        column("text_masked", "string", "Text with personal data masked"),
        column("lang", "string", "ko, en or und"),
    ),
    keys=("consultation_id",),
    description="Masked, classified consultations.",
    kind="result",
    date_column="consulted_at",
)

VOC_KEYWORD_DAILY = Table(
    "voc_keyword_daily",
    (
        column("date", "date", "Day", nullable=False),
        column("model", "string", "Model"),
        column("topic", "string", "Predicted topic"),
        column("keyword", "string", "Keyword (morpheme, dictionary compound or model code)", nullable=False),
        column("count", "int64", "Consultations that day mentioning the keyword", nullable=False),
    ),
    description="Keyword mentions per day, model and topic (pre-aggregated for fast filtering).",
    kind="result",
    date_column="date",
)

VOC_TOPIC_DAILY = Table(
    "voc_topic_daily",
    (
        column("date", "date", "Day", nullable=False),
        column("model", "string", "Model"),
        column("topic", "string", "Predicted topic"),
        column("count", "int64", "Consultations", nullable=False),
    ),
    description="Consultations per day, model and topic.",
    kind="result",
    date_column="date",
)

VOC_RISING = Table(
    "voc_rising",
    (
        column("period", "string", "Period tested (YYYY-MM), against the month before", nullable=False),
        column("keyword", "string", "Keyword", nullable=False),
        column("count", "int64", "Consultations mentioning it this period", nullable=False),
        column("previous", "int64", "Consultations mentioning it the period before", nullable=False),
        column("ratio", "float64", "Share this period / share the period before", nullable=False),
        column(
            "p_value", "float64", "One-sided Fisher exact test (more mentions than the period before)", nullable=False
        ),
        column("q_value", "float64", "Benjamini-Hochberg adjusted p-value", nullable=False),
        column("significant", "boolean", "q_value below 0.05", nullable=False),
    ),
    description="Keywords rising this period against the previous one.",
    kind="result",
)

VOC_MODEL_METRICS = Table(
    "voc_model_metrics",
    (
        column("trained_at", "timestamp", "When the evaluation ran", nullable=False),
        column("model_name", "string", "topic_classifier or baseline", nullable=False),
        column("metric", "string", "accuracy, macro_f1, needs_review_share, …", nullable=False),
        column("value", "float64", "Value on the held-out split"),
        column("n_train", "int64", "Training texts"),
        column("n_test", "int64", "Held-out texts"),
        column("note", "string", "Warnings (thin data) or what was done instead"),
    ),
    description="Held-out metrics of the topic classifier and its baseline on the same split.",
    kind="result",
    date_column="trained_at",
)

VOC_CONFUSION = Table(
    "voc_confusion",
    (
        column("model_name", "string", "topic_classifier or baseline", nullable=False),
        column("true_label", "string", "Agent's label", nullable=False),
        column("predicted_label", "string", "Predicted label", nullable=False),
        column("count", "int64", "Held-out texts", nullable=False),
    ),
    description="Confusion matrices on the held-out split.",
    kind="result",
)

TABLES = (VOC_CONSULTATIONS, VOC_KEYWORD_DAILY, VOC_TOPIC_DAILY, VOC_RISING, VOC_MODEL_METRICS, VOC_CONFUSION)

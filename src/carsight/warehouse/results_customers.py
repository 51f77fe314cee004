"""Result tables of the customers step (RFM, segments, recommendations), written by
``carsight.customers.pipeline`` and read by the dashboard, API and reports."""

from __future__ import annotations

from carsight.warehouse.schema import Table, _c

CUSTOMER_RFM = Table(
    "customer_rfm",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("as_of", "date", False, "Reference date; purchases before it count"),
        _c("recency_days", "int64", False, "Days since the last purchase"),
        _c("frequency", "int64", False, "Purchases (refunds and zero amounts excluded)"),
        _c("monetary_total", "float64", False, "Net spend in KRW (refunds subtracted, floored at 0)"),
        _c("monetary_avg", "float64", False, "Net spend per purchase in KRW"),
        _c("r_score", "int64", False, "Recency quintile score 1–5 (5 = most recent)"),
        _c("f_score", "int64", False, "Frequency quintile score 1–5"),
        _c("m_score", "int64", False, "Monetary quintile score 1–5"),
        _c("rfm_score", "float64", False, "Composite score 0–100"),
        _c("grade", "string", False, "Very Strong, Strong, Normal, Weak"),
        _c("named_segment", "string", False, "Champions, Loyal, … Lost"),
        _c("group", "string", False, "VIP, Regular, New, Churn risk"),
    ),
    keys=("customer_id",),
    description="RFM scores, grades and segments per customer.",
    kind="result",
)

CUSTOMER_SEGMENTS = Table(
    "customer_segments",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("segment_id", "int64", False, "Customer-type segment (stable across re-fits)"),
        _c("distance", "float64", True, "Distance to the segment centre (scaled feature space)"),
        _c("margin", "float64", True, "How much closer than the runner-up segment (0 = on the border)"),
    ),
    keys=("customer_id",),
    description="Customer-type segment of every customer.",
    kind="result",
)

SEGMENT_PROFILES = Table(
    "segment_profiles",
    (
        _c("segment_id", "int64", False, "Segment"),
        _c("size", "int64", False, "Customers in the segment"),
        _c("share", "float64", False, "Share of all customers"),
        _c("value", "float64", True, "Average net spend per customer in KRW"),
        _c("value_total", "float64", True, "Total net spend of the segment in KRW"),
        _c("profile_ko", "string", False, "Plain-language profile (Korean)"),
        _c("profile_en", "string", False, "Plain-language profile (English)"),
        _c("top_features", "string", False, "Most distinguishing features with their lift, as JSON"),
    ),
    keys=("segment_id",),
    description="Size, value and readable profile of each segment.",
    kind="result",
)

SEGMENT_K_CURVE = Table(
    "segment_k_curve",
    (
        _c("k", "int64", False, "Number of segments tried"),
        _c("inertia", "float64", False, "Within-cluster sum of squares (elbow curve)"),
        _c("silhouette", "float64", True, "Mean silhouette on a sample"),
        _c("silhouette_se", "float64", True, "Standard error of that mean"),
        _c("elbow", "boolean", False, "The elbow of the inertia curve"),
        _c("chosen", "boolean", False, "The k that was kept"),
    ),
    keys=("k",),
    description="How the number of segments was chosen.",
    kind="result",
)

RECOMMENDATIONS = Table(
    "recommendations",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("rank", "int64", False, "1 = best"),
        _c("model", "string", False, "Recommended model"),
        _c("score", "float64", False, "Model score (higher = more likely)"),
        _c("reason_ko", "string", False, "Why, in one line (Korean)"),
        _c("reason_en", "string", False, "Why, in one line (English)"),
    ),
    keys=("customer_id", "rank"),
    description="Top vehicle models for each customer.",
    kind="result",
)

RECOMMENDATION_EVAL = Table(
    "recommendation_eval",
    (
        _c("method", "string", False, "learned, popularity, segment_popularity"),
        _c("hit_at_3", "float64", False, "Share of held-out purchases in the top 3"),
        _c("ndcg_at_5", "float64", False, "NDCG@5 of the held-out purchase"),
        _c("n", "int64", False, "Held-out purchases evaluated"),
    ),
    keys=("method",),
    description="Recommenders compared on each customer's latest purchase, held out in time.",
    kind="result",
)

TABLES = (CUSTOMER_RFM, CUSTOMER_SEGMENTS, SEGMENT_PROFILES, SEGMENT_K_CURVE, RECOMMENDATIONS, RECOMMENDATION_EVAL)

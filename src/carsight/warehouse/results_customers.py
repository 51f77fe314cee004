"""Result tables of the customers step (RFM, segments, recommendations).

Written by ``carsight.customers.pipeline`` and read by the dashboard, API and reports.
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

CUSTOMER_RFM = Table(
    "customer_rfm",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("as_of", "date", "Reference date; purchases before it count", nullable=False),
        column("recency_days", "int64", "Days since the last purchase", nullable=False),
        column("frequency", "int64", "Purchases (refunds and zero amounts excluded)", nullable=False),
        column("monetary_total", "float64", "Net spend in KRW (refunds subtracted, floored at 0)", nullable=False),
        column("monetary_avg", "float64", "Net spend per purchase in KRW", nullable=False),
        column("r_score", "int64", "Recency quintile score 1–5 (5 = most recent)", nullable=False),
        column("f_score", "int64", "Frequency quintile score 1–5", nullable=False),
        column("m_score", "int64", "Monetary quintile score 1–5", nullable=False),
        column("rfm_score", "float64", "Composite score 0–100", nullable=False),
        column("grade", "string", "Very Strong, Strong, Normal, Weak", nullable=False),
        column("named_segment", "string", "Champions, Loyal, … Lost", nullable=False),
        column("group", "string", "VIP, Regular, New, Churn risk", nullable=False),
    ),
    keys=("customer_id",),
    description="RFM scores, grades and segments per customer.",
    kind="result",
)

CUSTOMER_SEGMENTS = Table(
    "customer_segments",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("segment_id", "int64", "Customer-type segment (stable across re-fits)", nullable=False),
        column("distance", "float64", "Distance to the segment centre (scaled feature space)"),
        column("margin", "float64", "How much closer than the runner-up segment (0 = on the border)"),
    ),
    keys=("customer_id",),
    description="Customer-type segment of every customer.",
    kind="result",
)

SEGMENT_PROFILES = Table(
    "segment_profiles",
    (
        column("segment_id", "int64", "Segment", nullable=False),
        column("size", "int64", "Customers in the segment", nullable=False),
        column("share", "float64", "Share of all customers", nullable=False),
        column("value", "float64", "Average net spend per customer in KRW"),
        column("value_total", "float64", "Total net spend of the segment in KRW"),
        column("profile_ko", "string", "Plain-language profile (Korean)", nullable=False),
        column("profile_en", "string", "Plain-language profile (English)", nullable=False),
        column("top_features", "string", "Most distinguishing features with their lift, as JSON", nullable=False),
    ),
    keys=("segment_id",),
    description="Size, value and readable profile of each segment.",
    kind="result",
)

SEGMENT_K_CURVE = Table(
    "segment_k_curve",
    (
        column("k", "int64", "Number of segments tried", nullable=False),
        column("inertia", "float64", "Within-cluster sum of squares (elbow curve)", nullable=False),
        column("silhouette", "float64", "Mean silhouette on a sample"),
        column("silhouette_se", "float64", "Standard error of that mean"),
        column("elbow", "boolean", "The elbow of the inertia curve", nullable=False),
        column("chosen", "boolean", "The k that was kept", nullable=False),
    ),
    keys=("k",),
    description="How the number of segments was chosen.",
    kind="result",
)

RECOMMENDATIONS = Table(
    "recommendations",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("rank", "int64", "1 = best", nullable=False),
        column("model", "string", "Recommended model", nullable=False),
        column("score", "float64", "Model score (higher = more likely)", nullable=False),
        column("reason_ko", "string", "Why, in one line (Korean)", nullable=False),
        column("reason_en", "string", "Why, in one line (English)", nullable=False),
    ),
    keys=("customer_id", "rank"),
    description="Top vehicle models for each customer.",
    kind="result",
)

RECOMMENDATION_EVAL = Table(
    "recommendation_eval",
    (
        column("method", "string", "learned, popularity, segment_popularity", nullable=False),
        column("hit_at_3", "float64", "Share of held-out purchases in the top 3", nullable=False),
        column("ndcg_at_5", "float64", "NDCG@5 of the held-out purchase", nullable=False),
        column("n", "int64", "Held-out purchases evaluated", nullable=False),
    ),
    keys=("method",),
    description="Recommenders compared on each customer's latest purchase, held out in time.",
    kind="result",
)

TABLES = (CUSTOMER_RFM, CUSTOMER_SEGMENTS, SEGMENT_PROFILES, SEGMENT_K_CURVE, RECOMMENDATIONS, RECOMMENDATION_EVAL)

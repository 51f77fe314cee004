"""Result tables of the propensity step (repurchase / response / churn propensity with deciles,
calibration, importance and reasons; customer lifetime value), written by
``carsight.customers.value_pipeline`` and read by the dashboard, API and reports."""

from __future__ import annotations

from carsight.warehouse.schema import Table, _c

PROPENSITY_SCORES = Table(
    "propensity_scores",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("target", "string", False, "repurchase, response or churn"),
        _c("as_of", "date", False, "Scores use events before this date (the day after the last event)"),
        _c("horizon_days", "int64", False, "The outcome window after as_of, in days"),
        _c("score", "float64", False, "Calibrated probability of the outcome"),
        _c("decile", "int64", False, "Decile among all scored customers (1 = most likely)"),
        _c("grade", "int64", False, "Grade 1–10 by the holdout cut-points (1 = most likely)"),
        _c("reason1_ko", "string", True, "Strongest reason (Korean)"),
        _c("reason2_ko", "string", True, "Second reason (Korean)"),
        _c("reason3_ko", "string", True, "Third reason (Korean)"),
        _c("reason1_en", "string", True, "Strongest reason (English)"),
        _c("reason2_en", "string", True, "Second reason (English)"),
        _c("reason3_en", "string", True, "Third reason (English)"),
        _c("reason1_feature", "string", True, "Feature behind reason 1"),
        _c("reason2_feature", "string", True, "Feature behind reason 2"),
        _c("reason3_feature", "string", True, "Feature behind reason 3"),
    ),
    keys=("customer_id", "target"),
    description="Propensity score, decile, grade and top-3 reasons per customer and target.",
    kind="result",
    date_column="as_of",
)

PROPENSITY_DECILES = Table(
    "propensity_deciles",
    (
        _c("target", "string", False, "Target"),
        _c("model", "string", False, "lightgbm or logistic_baseline"),
        _c("decile", "int64", False, "Decile 1–10 on the holdout (1 = highest scores)"),
        _c("customers", "int64", False, "Customers in the decile"),
        _c("positives", "int64", False, "Observed positives"),
        _c("rate", "float64", True, "Observed rate"),
        _c("lift", "float64", True, "Rate ÷ overall rate"),
        _c("cum_customers", "int64", False, "Customers in deciles 1..this"),
        _c("cum_positives", "int64", False, "Positives in deciles 1..this"),
        _c("cum_rate", "float64", True, "Rate in deciles 1..this"),
        _c("cum_lift", "float64", True, "Cumulative lift"),
        _c("cum_gain", "float64", True, "Share of all positives captured in deciles 1..this"),
        _c(
            "profit",
            "float64",
            True,
            "Expected profit of contacting deciles 1..this (margin × responders − cost × contacted)",
        ),
    ),
    keys=("target", "model", "decile"),
    description="Holdout decile (grade) table with lift, cumulative gain and profit.",
    kind="result",
)

PROPENSITY_METRICS = Table(
    "propensity_metrics",
    (
        _c("target", "string", False, "Target"),
        _c("model", "string", False, "lightgbm, logistic_baseline or base_rate"),
        _c("auroc", "float64", True, "Area under the ROC curve on the holdout"),
        _c("auroc_lo", "float64", True, "95% confidence interval, lower end (Hanley–McNeil)"),
        _c("auroc_hi", "float64", True, "95% confidence interval, upper end"),
        _c("pr_auc", "float64", True, "Average precision on the holdout"),
        _c("brier", "float64", True, "Brier score of the calibrated probabilities"),
        _c("ece", "float64", True, "Expected calibration error (10 bins)"),
        _c("n_train", "int64", False, "Training rows"),
        _c("n_test", "int64", False, "Holdout rows"),
        _c("positives", "int64", False, "Positives in the holdout"),
        _c("positive_rate", "float64", True, "Positive rate in the holdout"),
        _c("best_grade", "int64", True, "Grade to contact down to for the best expected profit (0 = none pays)"),
        _c("split", "string", True, "How train, validation and holdout were chosen"),
        _c("note", "string", True, "Warnings (thin data, fallbacks)"),
    ),
    keys=("target", "model"),
    description="Holdout metrics of each propensity model beside its baselines.",
    kind="result",
)

PROPENSITY_CALIBRATION = Table(
    "propensity_calibration",
    (
        _c("target", "string", False, "Target"),
        _c("bin", "int64", False, "Probability bin 0–9"),
        _c("lower", "float64", False, "Bin lower edge"),
        _c("upper", "float64", False, "Bin upper edge"),
        _c("customers", "int64", False, "Holdout customers in the bin"),
        _c("mean_predicted", "float64", True, "Mean calibrated probability"),
        _c("observed_rate", "float64", True, "Observed rate"),
    ),
    keys=("target", "bin"),
    description="Reliability bins of the calibrated probabilities on the holdout.",
    kind="result",
)

PROPENSITY_IMPORTANCE = Table(
    "propensity_importance",
    (
        _c("target", "string", False, "Target"),
        _c("feature", "string", False, "Feature name"),
        _c("description_ko", "string", True, "What the feature means (Korean)"),
        _c("description_en", "string", True, "What the feature means (English)"),
        _c("mean_abs_shap", "float64", False, "Mean |SHAP contribution| on the holdout (log-odds)"),
        _c("rank", "int64", False, "1 = most important"),
    ),
    keys=("target", "feature"),
    description="Global feature importance per target.",
    kind="result",
)

PROPENSITY_PDP = Table(
    "propensity_pdp",
    (
        _c("target", "string", False, "Target"),
        _c("feature", "string", False, "Feature"),
        _c("value", "string", False, "Grid value (numbers as text, or a category)"),
        _c("value_num", "float64", True, "Grid value as a number, when numeric"),
        _c("average", "float64", False, "Average predicted probability with the feature set to the value"),
    ),
    keys=("target", "feature", "value"),
    description="Partial dependence of the probability on the most important features.",
    kind="result",
)

CUSTOMER_CLV = Table(
    "customer_clv",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("as_of", "date", False, "Calibration end: purchases before it count"),
        _c("horizon_days", "int64", False, "Prediction horizon in days"),
        _c("frequency", "int64", False, "Repeat purchase occasions so far"),
        _c("recency_days", "float64", False, "Days from first to last purchase"),
        _c("tenure_days", "float64", False, "Days from first purchase to as_of"),
        _c("p_alive", "float64", False, "BG/NBD probability the customer is still active"),
        _c("expected_purchases", "float64", False, "BG/NBD expected purchases in the horizon"),
        _c("p_any_purchase", "float64", False, "BG/NBD probability of at least one purchase in the horizon"),
        _c("expected_avg_value", "float64", True, "Gamma-Gamma expected value per purchase (KRW)"),
        _c("expected_value", "float64", True, "Expected spend in the horizon (KRW)"),
        _c("hurdle_p_any", "float64", True, "Hurdle model: probability of any purchase"),
        _c("hurdle_expected_value", "float64", True, "Hurdle model: expected spend in the horizon (KRW)"),
    ),
    keys=("customer_id",),
    description="Customer lifetime value over the next horizon (BG/NBD + Gamma-Gamma, and the hurdle model).",
    kind="result",
    date_column="as_of",
)

TABLES = (
    PROPENSITY_SCORES,
    PROPENSITY_DECILES,
    PROPENSITY_METRICS,
    PROPENSITY_CALIBRATION,
    PROPENSITY_IMPORTANCE,
    PROPENSITY_PDP,
    CUSTOMER_CLV,
)

"""Result tables of the propensity step.

Repurchase / response / churn propensity with deciles, calibration, importance and reasons; customer
lifetime value. Written by ``carsight.customers.value_pipeline`` and read by the dashboard, API and
reports.
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

PROPENSITY_SCORES = Table(
    "propensity_scores",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("target", "string", "repurchase, response or churn", nullable=False),
        column("as_of", "date", "Scores use events before this date (the day after the last event)", nullable=False),
        column("horizon_days", "int64", "The outcome window after as_of, in days", nullable=False),
        column("score", "float64", "Calibrated probability of the outcome, by the model in model_used", nullable=False),
        column("decile", "int64", "Decile among all scored customers (1 = most likely)", nullable=False),
        column("grade", "int64", "Grade 1–10 by the holdout cut-points (1 = most likely)", nullable=False),
        column("reason1_ko", "string", "Strongest reason (Korean)"),
        column("reason2_ko", "string", "Second reason (Korean)"),
        column("reason3_ko", "string", "Third reason (Korean)"),
        column("reason1_en", "string", "Strongest reason (English)"),
        column("reason2_en", "string", "Second reason (English)"),
        column("reason3_en", "string", "Third reason (English)"),
        column("reason1_feature", "string", "Feature behind reason 1"),
        column("reason2_feature", "string", "Feature behind reason 2"),
        column("reason3_feature", "string", "Feature behind reason 3"),
        column(
            "model_used", "string", "The candidate that scored: the champion, or the drift model under material drift"
        ),
        column(
            "drift", "string", "Drift check of the scored rows against the training rows: stable, shifted, unchecked"
        ),
    ),
    keys=("customer_id", "target"),
    description="Propensity score, decile, grade and top-3 reasons per customer and target.",
    kind="result",
    date_column="as_of",
)

PROPENSITY_DECILES = Table(
    "propensity_deciles",
    (
        column("target", "string", "Target", nullable=False),
        column("model", "string", "The champion (e.g. lightgbm) or logistic_baseline", nullable=False),
        column("decile", "int64", "Decile 1–10 on the holdout (1 = highest scores)", nullable=False),
        column("customers", "int64", "Customers in the decile", nullable=False),
        column("positives", "int64", "Observed positives", nullable=False),
        column("rate", "float64", "Observed rate"),
        column("lift", "float64", "Rate ÷ overall rate"),
        column("cum_customers", "int64", "Customers in deciles 1..this", nullable=False),
        column("cum_positives", "int64", "Positives in deciles 1..this", nullable=False),
        column("cum_rate", "float64", "Rate in deciles 1..this"),
        column("cum_lift", "float64", "Cumulative lift"),
        column("cum_gain", "float64", "Share of all positives captured in deciles 1..this"),
        column(
            "profit",
            "float64",
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
        column("target", "string", "Target", nullable=False),
        column("model", "string", "lightgbm, logistic_baseline, lightgbm_additive, blend or base_rate", nullable=False),
        column("auroc", "float64", "Area under the ROC curve on the holdout"),
        column("auroc_lo", "float64", "95% confidence interval, lower end (Hanley–McNeil)"),
        column("auroc_hi", "float64", "95% confidence interval, upper end"),
        column("pr_auc", "float64", "Average precision on the holdout"),
        column("brier", "float64", "Brier score of the calibrated probabilities"),
        column("ece", "float64", "Expected calibration error (10 bins)"),
        column("n_train", "int64", "Training rows", nullable=False),
        column("n_test", "int64", "Holdout rows", nullable=False),
        column("positives", "int64", "Positives in the holdout", nullable=False),
        column("positive_rate", "float64", "Positive rate in the holdout"),
        column("best_grade", "int64", "Grade to contact down to for the best expected profit (0 = none pays)"),
        column("split", "string", "How train, validation and holdout were chosen"),
        column("note", "string", "Warnings (thin data, fallbacks)"),
    ),
    keys=("target", "model"),
    description="Holdout metrics of each propensity model beside its baselines.",
    kind="result",
)

PROPENSITY_CALIBRATION = Table(
    "propensity_calibration",
    (
        column("target", "string", "Target", nullable=False),
        column("bin", "int64", "Probability bin 0–9", nullable=False),
        column("lower", "float64", "Bin lower edge", nullable=False),
        column("upper", "float64", "Bin upper edge", nullable=False),
        column("customers", "int64", "Holdout customers in the bin", nullable=False),
        column("mean_predicted", "float64", "Mean calibrated probability"),
        column("observed_rate", "float64", "Observed rate"),
    ),
    keys=("target", "bin"),
    description="Reliability bins of the calibrated probabilities on the holdout.",
    kind="result",
)

PROPENSITY_IMPORTANCE = Table(
    "propensity_importance",
    (
        column("target", "string", "Target", nullable=False),
        column("feature", "string", "Feature name", nullable=False),
        column("description_ko", "string", "What the feature means (Korean)"),
        column("description_en", "string", "What the feature means (English)"),
        column("mean_abs_shap", "float64", "Mean |SHAP contribution| on the holdout (log-odds)", nullable=False),
        column("rank", "int64", "1 = most important", nullable=False),
    ),
    keys=("target", "feature"),
    description="Global feature importance per target.",
    kind="result",
)

PROPENSITY_PDP = Table(
    "propensity_pdp",
    (
        column("target", "string", "Target", nullable=False),
        column("feature", "string", "Feature", nullable=False),
        column("value", "string", "Grid value (numbers as text, or a category)", nullable=False),
        column("value_num", "float64", "Grid value as a number, when numeric"),
        column("average", "float64", "Average predicted probability with the feature set to the value", nullable=False),
    ),
    keys=("target", "feature", "value"),
    description="Partial dependence of the probability on the most important features.",
    kind="result",
)

CUSTOMER_CLV = Table(
    "customer_clv",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("as_of", "date", "The day after the calibration end: purchases before it count", nullable=False),
        column("horizon_days", "int64", "Prediction horizon in days", nullable=False),
        column("frequency", "int64", "Repeat purchase occasions so far", nullable=False),
        column("recency_days", "float64", "Days from first to last purchase", nullable=False),
        column("tenure_days", "float64", "Days from first purchase to the calibration end", nullable=False),
        column(
            "p_any_purchase",
            "float64",
            "Probability of at least one purchase in the horizon (backtest winner)",
            nullable=False,
        ),
        column("expected_purchases", "float64", "Expected purchases in the horizon (backtest winner)", nullable=False),
        column(
            "expected_value", "float64", "Expected spend in the horizon, KRW (backtest winner; empty: see value_note)"
        ),
        column("clv_model", "string", "The model(s) behind the three columns above"),
        column("value_note", "string", "Why the value is empty"),
        column("p_alive", "float64", "BG/NBD probability the customer is still active"),
        column("expected_avg_value", "float64", "Gamma-Gamma expected value per purchase (KRW)"),
        column("bgnbd_p_any", "float64", "BG/NBD: probability of any purchase"),
        column("bgnbd_expected_purchases", "float64", "BG/NBD: expected purchases"),
        column("bgnbd_expected_value", "float64", "BG/NBD + Gamma-Gamma: expected spend (KRW)"),
        column("hurdle_p_any", "float64", "Hurdle model: probability of any purchase"),
        column("hurdle_expected_purchases", "float64", "Hurdle model: expected purchases"),
        column("hurdle_expected_value", "float64", "Hurdle model: expected spend in the horizon (KRW)"),
        column("past_rate_p_any", "float64", "Past purchase rate: probability of any purchase"),
        column("past_rate_expected_purchases", "float64", "Past purchase rate: expected purchases"),
        column("past_rate_expected_value", "float64", "Past purchase rate: expected spend (KRW)"),
    ),
    keys=("customer_id",),
    description="Customer lifetime value over the next horizon, from the models that backtested best on this data.",
    kind="result",
    date_column="as_of",
)

CLV_BACKTEST = Table(
    "clv_backtest",
    (
        column("model", "string", "bgnbd, hurdle or past_rate", nullable=False),
        column("auroc", "float64", "AUROC of 'buys again' in the held-out stretch"),
        column("mae_purchases", "float64", "Mean absolute error of purchase occasions"),
        column("mae_value", "float64", "Mean absolute error of value (KRW)"),
        column("customers", "int64", "Customers scored"),
        column("buyers", "int64", "Customers who bought in the held-out stretch"),
        column("window_days", "int64", "Length of the held-out stretch"),
        column("status", "string", "ok, or why the model was not fitted", nullable=False),
        column("chosen_for", "string", "The default columns this model fills"),
        column("description", "string", "Which stretch was held out"),
        column("as_of", "date", "The day after the calibration end", nullable=False),
    ),
    keys=("model",),
    description="Backtest of every CLV model inside the calibration period; the default columns follow it.",
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
    CLV_BACKTEST,
)

"""Result tables of the market area: analytics for the last 12 months, and backtested forecasts."""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

_PERIOD = (
    column("period_start", "date", "First month of the period"),
    column("period_end", "date", "Last month of the period"),
)

MARKET_TOP_MODELS = Table(
    "market_top_models",
    (
        *_PERIOD,
        column("market", "string", "Market"),
        column("rank", "int64", "Rank by units within the market (1 = best seller)"),
        column("brand", "string"),
        column("model", "string"),
        column("units", "int64", "Units in the period"),
        column("share", "float64", "Share of the market's units (%)"),
        column("units_prev_year", "int64", "Units in the same months a year earlier"),
        column("yoy", "float64", "Year-on-year change (%), empty without sales a year earlier"),
    ),
    description="Top models per market over the last 12 months.",
    kind="result",
    date_column="period_end",
)

MARKET_UNUSUAL = Table(
    "market_unusual",
    (
        *_PERIOD,
        column("market", "string"),
        column("brand", "string"),
        column("model", "string"),
        column("units", "int64"),
        column("market_units", "int64", "Size of the market: all its units in the period"),
        column("share_market", "float64", "Model's share of the market (%)"),
        column("share_overall", "float64", "Model's share of all markets (%)"),
        column("points", "float64", "share_market − share_overall (percentage points)"),
        column("points_se", "float64", "Binomial standard error of share_market (points)"),
        column("ratio", "float64", "share_market / share_overall"),
        column(
            "ratio_other_markets", "float64", "share_market / the model's mean share in the other markets selling it"
        ),
        column("flag", "boolean", "points ≥ 5"),
        column("small_market", "boolean", "Market has < 1% of all units: read with care"),
    ),
    description="How much better (or worse) each model sells in each market than overall.",
    kind="result",
    date_column="period_end",
)

MARKET_MATRIX = Table(
    "market_matrix",
    (
        *_PERIOD,
        column("market", "string"),
        column("brand", "string"),
        column("model", "string"),
        column("units", "int64"),
        column("share", "float64", "Share of the market's units (%)"),
    ),
    description="Markets × top models share matrix (heatmap data).",
    kind="result",
    date_column="period_end",
)

MARKET_SEASONALITY = Table(
    "market_seasonality",
    (
        column("unique_id", "string", "Series: Total, brand:…, market:…"),
        column("level", "string"),
        column("month_of_year", "int64", "1–12"),
        column("seasonal_index", "float64", "Month's level relative to the year's average (1 = average)"),
        column("n_months", "int64", "Months of history behind the index"),
        column("note", "string", "Why the index is only indicative, if it is"),
    ),
    description="Seasonal indices of the overall, brand and market totals.",
    kind="result",
)

FORECASTS = Table(
    "forecasts",
    (
        column("unique_id", "string", "Series id: Total, brand:X, market:Y, or brand/model/market"),
        column("level", "string", "total, brand, market or brand/model/market"),
        column("brand", "string"),
        column("model", "string"),
        column("market", "string"),
        column("ds", "date", "Forecast month"),
        column("model_name", "string", "Chosen forecasting method"),
        column("yhat", "float64", "Reconciled forecast (bottom series add up to every total)"),
        column("yhat_lo_80", "float64"),
        column("yhat_hi_80", "float64"),
        column("yhat_lo_95", "float64"),
        column("yhat_hi_95", "float64"),
    ),
    description="Coherent monthly forecasts with 80% and 95% conformal intervals.",
    kind="result",
    date_column="ds",
)

FORECAST_BACKTEST = Table(
    "forecast_backtest",
    (
        column("unique_id", "string"),
        column("model_name", "string", "Candidate method"),
        column("window", "int64", "Backtest window (1 = earliest origin)"),
        column("cutoff", "date", "Last month of training data in the window"),
        column("mape", "float64", "Mean absolute percentage error (%), over months with sales"),
        column("smape", "float64", "Symmetric MAPE (%)"),
        column("mase", "float64", "MAE over the seasonal-naive in-sample MAE (< 1 beats it)"),
        column("coverage_80", "float64", "Share of actuals inside the 80% interval (chosen method only)"),
        column("coverage_95", "float64", "Share of actuals inside the 95% interval (chosen method only)"),
    ),
    description="Rolling-origin backtest of every candidate method.",
    kind="result",
)

FORECAST_CHOICE = Table(
    "forecast_choice",
    (
        column("unique_id", "string"),
        column("level", "string"),
        column(
            "series_class", "string", "seasonal, short, intermittent, stopped (forecast 0), none (no backtest) or zero"
        ),
        column("model_name", "string", "Chosen method"),
        column("selection", "string", "How the backtest chose it: combination, pooled or series (empty: none)"),
        column("mase", "float64", "Chosen method's mean backtest MASE"),
        column("mase_snaive", "float64", "Baseline's mean backtest MASE on the same windows"),
        column("baseline", "string", "SeasonalNaive, or Naive for short series"),
        column("h_backtest", "int64", "Months ahead that were backtested"),
        column("n_months", "int64", "Months of history"),
        column("coverage_80", "float64"),
        column("coverage_95", "float64"),
        column("reconciliation", "string", "mint_shrink, wls_struct or bottom_up"),
        column("warning", "string", "What makes this series hard to forecast"),
    ),
    description="The chosen method per series, its backtest error beside the baseline's, and warnings.",
    kind="result",
)

FORECAST_EVENTS = Table(
    "forecast_events",
    (
        column("name", "string", "Event name"),
        column("kind", "string", "launch, incentive, tax, shock or other"),
        column("start", "string", "First month (YYYY-MM)"),
        column("end", "string", "Last month (YYYY-MM)"),
        column("market", "string", "Scope: market ((all): every market)"),
        column("model", "string", "Scope: model"),
        column("brand", "string", "Scope: brand"),
        column("status", "string", "learnt, applied, not identifiable or no past occurrence"),
        column("source", "string", "Where an applied effect comes from: its name's or its kind's past occurrences"),
        column("effect_pct", "float64", "Effect on sales (%), pooled over the series it covers"),
        column("lo_pct", "float64", "95% interval, lower end (%)"),
        column("hi_pct", "float64", "95% interval, upper end (%)"),
        column("series_covered", "int64", "Series the event covers"),
    ),
    description="Declared events and their effects, learnt from past occurrences and applied to coming ones.",
    kind="result",
)

TABLES = (
    MARKET_TOP_MODELS,
    MARKET_UNUSUAL,
    MARKET_MATRIX,
    MARKET_SEASONALITY,
    FORECASTS,
    FORECAST_BACKTEST,
    FORECAST_CHOICE,
    FORECAST_EVENTS,
)

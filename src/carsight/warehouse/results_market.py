"""Result tables of the market area: analytics for the last 12 months, and backtested forecasts."""

from __future__ import annotations

from carsight.warehouse.schema import Column, Table


def _c(name: str, dtype: str, description: str = "", nullable: bool = True) -> Column:
    return Column(name, dtype, nullable, description)


_PERIOD = (
    _c("period_start", "date", "First month of the period"),
    _c("period_end", "date", "Last month of the period"),
)

MARKET_TOP_MODELS = Table(
    "market_top_models",
    (
        *_PERIOD,
        _c("market", "string", "Market"),
        _c("rank", "int64", "Rank by units within the market (1 = best seller)"),
        _c("brand", "string"),
        _c("model", "string"),
        _c("units", "int64", "Units in the period"),
        _c("share", "float64", "Share of the market's units (%)"),
        _c("units_prev_year", "int64", "Units in the same months a year earlier"),
        _c("yoy", "float64", "Year-on-year change (%), empty without sales a year earlier"),
    ),
    description="Top models per market over the last 12 months.",
    kind="result",
    date_column="period_end",
)

MARKET_UNUSUAL = Table(
    "market_unusual",
    (
        *_PERIOD,
        _c("market", "string"),
        _c("brand", "string"),
        _c("model", "string"),
        _c("units", "int64"),
        _c("market_units", "int64", "Size of the market: all its units in the period"),
        _c("share_market", "float64", "Model's share of the market (%)"),
        _c("share_overall", "float64", "Model's share of all markets (%)"),
        _c("points", "float64", "share_market − share_overall (percentage points)"),
        _c("points_se", "float64", "Binomial standard error of share_market (points)"),
        _c("ratio", "float64", "share_market / share_overall"),
        _c("ratio_other_markets", "float64", "share_market / the model's mean share in the other markets selling it"),
        _c("flag", "boolean", "points ≥ 5"),
        _c("small_market", "boolean", "Market has < 1% of all units: read with care"),
    ),
    description="How much better (or worse) each model sells in each market than overall.",
    kind="result",
    date_column="period_end",
)

MARKET_MATRIX = Table(
    "market_matrix",
    (
        *_PERIOD,
        _c("market", "string"),
        _c("brand", "string"),
        _c("model", "string"),
        _c("units", "int64"),
        _c("share", "float64", "Share of the market's units (%)"),
    ),
    description="Markets × top models share matrix (heatmap data).",
    kind="result",
    date_column="period_end",
)

MARKET_SEASONALITY = Table(
    "market_seasonality",
    (
        _c("unique_id", "string", "Series: Total, brand:…, market:…"),
        _c("level", "string"),
        _c("month_of_year", "int64", "1–12"),
        _c("seasonal_index", "float64", "Month's level relative to the year's average (1 = average)"),
        _c("n_months", "int64", "Months of history behind the index"),
        _c("note", "string", "Why the index is only indicative, if it is"),
    ),
    description="Seasonal indices of the overall, brand and market totals.",
    kind="result",
)

FORECASTS = Table(
    "forecasts",
    (
        _c("unique_id", "string", "Series id: Total, brand:X, market:Y, or brand/model/market"),
        _c("level", "string", "total, brand, market or brand/model/market"),
        _c("brand", "string"),
        _c("model", "string"),
        _c("market", "string"),
        _c("ds", "date", "Forecast month"),
        _c("model_name", "string", "Chosen forecasting method"),
        _c("yhat", "float64", "Reconciled forecast (bottom series add up to every total)"),
        _c("yhat_lo_80", "float64"),
        _c("yhat_hi_80", "float64"),
        _c("yhat_lo_95", "float64"),
        _c("yhat_hi_95", "float64"),
    ),
    description="Coherent monthly forecasts with 80% and 95% conformal intervals.",
    kind="result",
    date_column="ds",
)

FORECAST_BACKTEST = Table(
    "forecast_backtest",
    (
        _c("unique_id", "string"),
        _c("model_name", "string", "Candidate method"),
        _c("window", "int64", "Backtest window (1 = earliest origin)"),
        _c("cutoff", "date", "Last month of training data in the window"),
        _c("mape", "float64", "Mean absolute percentage error (%), over months with sales"),
        _c("smape", "float64", "Symmetric MAPE (%)"),
        _c("mase", "float64", "MAE over the seasonal-naive in-sample MAE (< 1 beats it)"),
        _c("coverage_80", "float64", "Share of actuals inside the 80% interval (chosen method only)"),
        _c("coverage_95", "float64", "Share of actuals inside the 95% interval (chosen method only)"),
    ),
    description="Rolling-origin backtest of every candidate method.",
    kind="result",
)

FORECAST_CHOICE = Table(
    "forecast_choice",
    (
        _c("unique_id", "string"),
        _c("level", "string"),
        _c("series_class", "string", "seasonal, short, intermittent, none (no backtest) or zero"),
        _c("model_name", "string", "Chosen method"),
        _c("mase", "float64", "Chosen method's mean backtest MASE"),
        _c("mase_snaive", "float64", "Baseline's mean backtest MASE on the same windows"),
        _c("baseline", "string", "SeasonalNaive, or Naive for short series"),
        _c("h_backtest", "int64", "Months ahead that were backtested"),
        _c("n_months", "int64", "Months of history"),
        _c("coverage_80", "float64"),
        _c("coverage_95", "float64"),
        _c("reconciliation", "string", "mint_shrink, wls_struct or bottom_up"),
        _c("warning", "string", "What makes this series hard to forecast"),
    ),
    description="The chosen method per series, its backtest error beside the baseline's, and warnings.",
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
)

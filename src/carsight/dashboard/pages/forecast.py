"""Forecast (HQ planning).

Per series, the actuals, the forecast with its 80/95% intervals, the method chosen for it and that
method's backtest error beside the baseline's (MAPE, and MASE against seasonal naive).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from carsight.dashboard import charts, data, forecasts, frames, state
from carsight.dashboard.state import tr
from carsight.warehouse.results_market import FORECASTS

# The forecast table's columns, named as the forecasts result table names them.
FORECAST_COLUMNS = {
    "ds": "month",
    "mean": "yhat",
    "lo_80": "yhat_lo_80",
    "hi_80": "yhat_hi_80",
    "lo_95": "yhat_lo_95",
    "hi_95": "yhat_hi_95",
}


def pick_series(r: data.Reader) -> pd.Series:
    """The level and series to show (the Market page's market first)."""
    series = forecasts.series_list(r)
    if series.empty:
        raise data.MissingTable(FORECASTS.name)
    c1, c2 = st.columns([1, 3])
    level = c1.selectbox(tr("filter.level"), forecasts.levels(series), key="fc_level", format_func=tr_level)
    shown = series[series.level == level].reset_index(drop=True)
    # Pre-select the series of the market chosen on the Market page, when this level has one.
    market = st.session_state.get(state.MARKET)
    default = 0
    if market is not None and "market" in shown:
        hits = shown.index[shown.market == market]
        default = int(hits[0]) if len(hits) else 0
    index = c2.selectbox(
        tr("filter.series"),
        shown.index.tolist(),
        index=default,
        key="fc_series",
        format_func=lambda i: shown.unique_id[i],
    )
    return shown.loc[index]


def tr_level(value: str) -> str:
    """A series level in the current language."""
    text = tr(f"fc.level.{'bottom' if '/' in value else value}")
    return value if text.startswith("dash.") else text


def _num(value, fmt: str) -> str:
    return "—" if value is None or pd.isna(value) else format(value, fmt)


def show_series(r: data.Reader, row: pd.Series) -> None:
    """One series: actuals, forecast with intervals, and the chosen method's backtest."""
    history, future = forecasts.series(r, row.unique_id)
    errors = forecasts.errors_for(r, row.unique_id)
    method = row.get("model_name")
    left, right = st.columns([3, 1])
    with left:
        labels = {
            "actual": tr("fc.actual"),
            "forecast": tr("fc.forecast", model=method or "?"),
            "80": tr("fc.band", level=80),
            "95": tr("fc.band", level=95),
        }
        fig = charts.forecast(
            history.tail(48), future, tr("fc.chart", series=row.unique_id), tr("axis.month"), tr("axis.units"), labels
        )
        charts.show(fig, key="fc_chart")
    with right:
        # Method names can be long combinations: a label and plain text, not a metric that truncates.
        st.caption(tr("fc.chosen"))
        st.markdown(f"**{method or '—'}**")
        chosen = errors[errors.model_name == method] if not errors.empty else errors
        mape = chosen.mape.iloc[0] if len(chosen) else None
        st.metric("MAPE", _num(mape, ".1f") + ("%" if mape is not None and not pd.isna(mape) else ""))
        mase, naive = row.get("mase"), row.get("mase_snaive")
        if mase is not None and not pd.isna(mase):
            better = naive is None or pd.isna(naive) or mase < naive
            st.metric(
                tr("fc.mase"),
                _num(mase, ".2f"),
                delta=tr("fc.vs_baseline", baseline=row.get("baseline") or "SeasonalNaive", value=_num(naive, ".2f")),
                delta_color="normal" if better else "inverse",
                delta_arrow="down" if better else "up",
            )
        else:
            st.caption(tr("fc.no_backtest"))
        st.caption(tr("fc.mase_help"))
        if row.get("warning"):
            st.warning(str(row["warning"]))
    if not errors.empty:
        st.markdown(f"**{tr('fc.all_models')}**")
        frames.show(errors)
    with st.expander(tr("fc.table")):
        months = future.assign(ds=future.ds.dt.strftime("%Y-%m"))
        frames.show(months.rename(columns=FORECAST_COLUMNS), list(FORECAST_COLUMNS.values()))


def overview(r: data.Reader) -> None:
    """Every series with its method and whether it beats its baseline."""
    st.subheader(tr("fc.overall"))
    series = forecasts.series_list(r)
    if "mase" not in series:
        return
    scored = series.dropna(subset=["mase"])
    beats = int((scored.mase < scored.mase_snaive).sum())
    st.caption(tr("fc.beats", beats=beats, n=len(scored)))
    cols = [
        c
        for c in (
            "unique_id",
            "level",
            "series_class",
            "model_name",
            "mase",
            "mase_snaive",
            "baseline",
            "coverage_80",
            "coverage_95",
            "n_months",
            "warning",
        )
        if c in series
    ]
    frames.show(series, cols)


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.forecast"))
with state.guarded(), data.Reader(scope=scope) as reader:
    chosen = pick_series(reader)
    with state.section():
        show_series(reader, chosen)
    with state.section():
        overview(reader)

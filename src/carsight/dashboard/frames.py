"""How a table is shown on a page.

Column headings from the message catalogue (``dash.col.<name>``), numbers in a fixed format, and
dates without midnight times. Pages pass their frames through :func:`show` so no storage column name
(``as_of``, ``reason1_ko``) reaches the screen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from carsight.dashboard.state import lang
from carsight.i18n import t

# Number formats by column, for every table that shows the column; a page may override them.
FORMATS: dict[str, str] = {
    "amount": "localized",
    "auroc": "%.3f",
    "auroc_lo": "%.3f",
    "auroc_hi": "%.3f",
    "brier": "%.4f",
    "confidence": "%.2f",
    "coverage_80": "%.2f",
    "coverage_95": "%.2f",
    "cum_gain_pct": "%.1f%%",
    "cum_lift": "%.2f",
    "ece": "%.4f",
    "lift": "%.2f",
    "mape": "%.2f",
    "mase": "%.2f",
    "mase_snaive": "%.2f",
    "mileage_km": "localized",
    "ndcg_at_5": "%.3f",
    "hit_at_3": "%.3f",
    "pr_auc": "%.3f",
    "profit": "localized",
    "rate_pct": "%.2f%%",
    "score": "%.3f",
    "smape": "%.2f",
    "yhat": "localized",
    "yhat_lo_80": "localized",
    "yhat_hi_80": "localized",
    "yhat_lo_95": "localized",
    "yhat_hi_95": "localized",
}


def label(column: str, section: str = "dash.col") -> str:
    """The heading of ``column`` in the current language.

    The catalogue message ``<section>.<column>`` (``insights.column`` for the insights tables, whose
    headings the CLI shares).

    Raises
    ------
    KeyError
        When the catalogue has no such message: a page must never show a storage name.
    """
    key = f"{section}.{column}"
    text = t(key, lang())
    if text == key:
        raise KeyError(f"no column heading {key} in the message catalogue (i18n/dashboard.toml)")
    return text


def plain_dates(values: pd.Series) -> pd.Series:
    """Dates as dates.

    A date-time column whose values are all at midnight becomes plain dates, any other date-time
    column is shown to the minute.
    """
    if not pd.api.types.is_datetime64_any_dtype(values):
        return values
    present = values.dropna()
    if present.empty or (present == present.dt.normalize()).all():
        return values.dt.date.astype(object).where(values.notna(), None)
    return values.dt.strftime("%Y-%m-%d %H:%M").where(values.notna(), None)


def plain_date(value) -> str:
    """One date or date-time as text, without a midnight time; "—" when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.strftime("%Y-%m-%d %H:%M")


def labelled(frame: pd.DataFrame, columns: Sequence[str] | None = None, section: str = "dash.col") -> pd.DataFrame:
    """``columns`` of ``frame`` (all by default) with catalogue headings and plain dates.

    Parameters
    ----------
    frame : DataFrame
        A frame as read from the warehouse.
    columns : sequence of str, optional
        The columns to show, in order; each needs a ``<section>.<name>`` message.
    section : str, default "dash.col"
        The catalogue section of the headings.

    Returns
    -------
    DataFrame
        A copy ready for ``st.dataframe``.
    """
    names = list(frame.columns if columns is None else columns)
    out = frame[names].copy()
    for name in names:
        out[name] = plain_dates(out[name])
    return out.rename(columns={name: label(name, section) for name in names})


def show(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    section: str = "dash.col",
    key: str | None = None,
) -> None:
    """Show ``columns`` of ``frame`` as a table with catalogue headings, formats and plain dates.

    Parameters
    ----------
    frame : DataFrame
        The rows to show.
    columns : sequence of str, optional
        The columns to show, in order (all by default).
    formats : mapping of str to str, optional
        Number formats (Streamlit's ``NumberColumn`` format) by column, over :data:`FORMATS`.
    section : str, default "dash.col"
        The catalogue section of the headings.
    key : str, optional
        The widget key, for a page that shows the same table twice.
    """
    names = list(frame.columns if columns is None else columns)
    chosen = {**FORMATS, **(formats or {})}
    config = {
        label(name, section): st.column_config.NumberColumn(format=chosen[name])
        for name in names
        if name in chosen and pd.api.types.is_numeric_dtype(frame[name])
    }
    st.dataframe(labelled(frame, names, section), hide_index=True, column_config=config, key=key)

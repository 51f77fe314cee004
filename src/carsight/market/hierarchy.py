"""Coherent forecasts: aggregate series built from the bottom series, and reconciled forecasts.

The aggregate series (overall, per brand, per market) are built from the bottom series
(brand/model/market); all forecasts are then reconciled so the bottom ones add up to every total.

Reconciliation is MinTrace with a shrunk covariance of the backtest errors (``mint_shrink``, from
hierarchicalforecast). When the backtest errors are too few or misaligned (new launches backtested on
a shorter horizon) it falls back to ``wls_struct`` (weights from the structure only), and to bottom-up
if that fails too. Intervals are each series' own conformal interval moved by the same amount as its
mean; they are not summed, so a total's interval is not the sum of its parts' intervals.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from carsight.market.series import DS, ID, Y

log = logging.getLogger(__name__)

TOTAL = "Total"


def aggregate(
    bottom: pd.DataFrame, keys: list[str], groupings: list[tuple[str, list[str]]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sum bottom series (columns ``keys`` + ds + y) into every grouping.

    ``groupings`` lists ``(level name, columns)``; ``[]`` is the overall total. The bottom level
    (all ``keys``) is added last. Every series runs to the last month of the data, a missing month
    counting as 0, so all forecasts start in the same month.

    Returns ``(Y_df, S, meta)``: the long frame of all series, the summing matrix (rows: all ids,
    columns: bottom ids) and one row per id with its level and key values.
    """
    frame = bottom.groupby([*keys, DS], as_index=False)[Y].sum()
    end = frame[DS].max()
    frame["_bid"] = frame[keys].astype(str).agg("/".join, axis=1)
    filled = []
    for _bid, g in frame.groupby("_bid", sort=True):
        idx = pd.date_range(g[DS].min(), end, freq="MS")
        full = g.set_index(DS).reindex(idx)
        full[keys] = g[keys].iloc[0].to_numpy()
        full["_bid"] = _bid
        full[Y] = full[Y].fillna(0.0)
        filled.append(full.rename_axis(DS).reset_index())
    frame = pd.concat(filled, ignore_index=True)
    bottom_ids = sorted(frame["_bid"].unique())
    key_of = frame.drop_duplicates("_bid").set_index("_bid")[keys]

    rows, series, meta = [], [], []
    levels = [*groupings, ("/".join(keys), list(keys))]
    for level, cols in levels:
        labels = key_of[cols].astype(str).agg("/".join, axis=1) if cols else pd.Series(TOTAL, index=key_of.index)
        prefix = "" if cols == list(keys) or not cols else f"{level}:"
        for label, members in labels.groupby(labels, sort=True):
            uid = f"{prefix}{label}"
            rows.append((uid, set(members.index)))
            part = frame[frame["_bid"].isin(members.index)].groupby(DS, as_index=False)[Y].sum()
            part[ID] = uid
            series.append(part)
            first = key_of.loc[members.index[0]]
            meta.append({ID: uid, "level": level, **{k: (first[k] if k in cols else None) for k in keys}})
    S = pd.DataFrame(
        [[1.0 if b in members else 0.0 for b in bottom_ids] for _, members in rows],
        index=[uid for uid, _ in rows],
        columns=bottom_ids,
    )
    Y_df = pd.concat(series, ignore_index=True)[[ID, DS, Y]]
    return Y_df, S, pd.DataFrame(meta)


def season_groups(meta: pd.DataFrame, column: str) -> dict[str, str]:
    """Series id → its value of ``column`` (the market, say), for the series that have one.

    That value is the group whose season a short series borrows (see :mod:`carsight.market.borrowed`).
    """
    known = meta.dropna(subset=[column])
    return dict(zip(known[ID].astype(str), known[column].astype(str), strict=True))


def reconcile(
    forecast: pd.DataFrame,
    S: pd.DataFrame,
    residuals: pd.DataFrame | None = None,
    *,
    levels: tuple[int, ...] = (80, 95),
    nonnegative: bool = True,
    method: str = "mint_shrink",
) -> tuple[pd.DataFrame, str]:
    """Make ``forecast`` (unique_id, ds, yhat, bounds) coherent with ``S``; returns it and the method used.

    ``residuals`` are the backtest rows (unique_id, cutoff, ds, y, yhat) that MinT needs for its error
    covariance. With ``nonnegative`` a negative bottom forecast is set to 0 and the totals re-added,
    which keeps the result coherent.
    """
    from hierarchicalforecast.methods import MinTrace

    ids = list(S.index)
    bottom_ids = list(S.columns)
    wide = forecast.pivot(index=ID, columns=DS, values="yhat").reindex(ids)
    if wide.isna().any().any():
        missing = wide.index[wide.isna().any(axis=1)].tolist()[:5]
        raise ValueError(f"forecasts missing for {missing}")
    y_hat = wide.to_numpy(float)
    Smat = S.to_numpy(float)
    used = method
    mean = None
    if method != "bottom_up":
        y_in, yhat_in = _insample(residuals, ids) if residuals is not None else (None, None)
        if method == "mint_shrink" and (y_in is None or y_in.shape[1] < max(10, len(bottom_ids) // 10 + 2)):
            used = "wls_struct"
        try:
            if used == "wls_struct":
                mean = MinTrace(method="wls_struct").fit_predict(S=Smat, y_hat=y_hat)["mean"]
            else:
                mean = MinTrace(method=used).fit_predict(S=Smat, y_hat=y_hat, y_insample=y_in, y_hat_insample=yhat_in)[
                    "mean"
                ]
            if not np.all(np.isfinite(mean)):
                raise FloatingPointError("non-finite reconciled forecast")
        except Exception as exc:  # an ill-conditioned covariance must not stop the pipeline
            log.warning("reconciliation with %s failed (%s); using bottom-up", used, exc)
            mean = None
    if mean is None:
        used = "bottom_up"
        mean = Smat @ y_hat[_bottom_rows(S)]
    if nonnegative:
        bottom_rows = _bottom_rows(S)
        bottom = np.clip(mean[bottom_rows], 0, None)
        mean = Smat @ bottom
    shift = pd.DataFrame(mean - y_hat, index=pd.Index(ids, name=ID), columns=wide.columns).stack().rename("_shift")
    out = forecast.merge(shift.reset_index(), on=[ID, DS], how="left").set_index([ID, DS])
    out["yhat"] = out["yhat"] + out["_shift"]
    for level in levels:
        for side in ("lo", "hi"):
            col = f"yhat_{side}_{level}"
            if col in out:
                out[col] = out[col] + out["_shift"]
                if nonnegative:
                    out[col] = out[col].clip(lower=0)
    # Keep the bounds around the reconciled mean when the shift or the clip crossed them.
    for level in levels:
        lo, hi = f"yhat_lo_{level}", f"yhat_hi_{level}"
        if lo in out and hi in out:
            out[lo] = np.minimum(out[lo], out["yhat"])
            out[hi] = np.maximum(out[hi], out["yhat"])
    return out.drop(columns="_shift").reset_index(), used


def _bottom_rows(S: pd.DataFrame) -> np.ndarray:
    """Row index of each bottom series in ``S`` (the rows that are unit vectors), in column order."""
    pos = {uid: i for i, uid in enumerate(S.index)}
    return np.array([pos[b] for b in S.columns])


def _insample(residuals: pd.DataFrame, ids: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Backtest actuals and forecasts as (series × point) matrices on the points every series shares."""
    if residuals is None or residuals.empty:
        return None, None
    r = residuals[residuals[ID].isin(ids)]
    key = r["cutoff"].astype(str) + "|" + r[DS].astype(str)
    y = r.assign(_k=key).pivot_table(index=ID, columns="_k", values=Y).reindex(ids)
    f = r.assign(_k=key).pivot_table(index=ID, columns="_k", values="yhat").reindex(ids)
    complete = y.notna().all(axis=0) & f.notna().all(axis=0)
    if complete.sum() == 0:
        return None, None
    return y.loc[:, complete].to_numpy(float), f.loc[:, complete].to_numpy(float)


def coherence_gap(forecast: pd.DataFrame, S: pd.DataFrame, column: str = "yhat") -> float:
    """Largest absolute difference between each total and the sum of its bottom series."""
    wide = forecast.pivot(index=ID, columns=DS, values=column).reindex(S.index)
    bottom = wide.loc[list(S.columns)].to_numpy(float)
    return float(np.max(np.abs(S.to_numpy(float) @ bottom - wide.to_numpy(float))))

"""Model checks: earlier scores against their outcomes, forecasts against the months that arrived.

Do earlier propensity scores still rank and calibrate as their holdout promised, now that their
outcomes are in; are the forecasts of the months that arrived as accurate as their backtest; and did
the scoring itself find its inputs drifted.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from carsight.monitor.context import Context
from carsight.monitor.findings import Finding, alert, ok, skipped
from carsight.warehouse.results_monitor import MONITOR_FORECASTS, MONITOR_SCORES
from carsight.warehouse.results_value import PROPENSITY_SCORES


def _day(value) -> str:
    return str(pd.Timestamp(value).date())


def _last_event(ctx: Context) -> dt.date | None:
    from carsight.customers.targets import last_event_date

    return last_event_date(ctx.wh)


def propensity(ctx: Context) -> list[Finding]:
    """Per target: the newest kept scores whose outcome window has ended, against the outcomes.

    Alerts when the realised AUROC is below the holdout's by at least ``auroc_min_drop`` and by
    ``auroc_drop_z`` standard errors (Hanley–McNeil), or when the responders differ from the sum
    of the probabilities by ``calibration_z`` (Poisson-binomial) and by a factor of
    ``calibration_min_ratio``.
    """
    from carsight.customers.deciles import auroc_with_ci, decile_table
    from carsight.customers.targets import build_labels

    cfg, wh, check = ctx.cfg, ctx.wh, "models.propensity"
    if not wh.has_table(MONITOR_SCORES.name) or wh.count(MONITOR_SCORES.name) == 0:
        return [skipped(check, "scores", "no scores kept yet")]
    last = _last_event(ctx)
    runs = wh.table(MONITOR_SCORES.name).select("target", "as_of", "horizon_days").distinct().to_pandas()
    out = []
    for target, g in runs.groupby("target"):
        ends = [
            pd.Timestamp(a).date() + dt.timedelta(days=int(h)) for a, h in zip(g.as_of, g.horizon_days, strict=True)
        ]
        g = g.assign(end=ends)
        done = g[[last is not None and e <= last for e in g["end"]]]
        if done.empty:
            out.append(
                skipped(check, target, f"outcomes of the scores of {_day(g.as_of.max())} arrive after {g.end.max()}")
            )
            continue
        run = done.sort_values("as_of").iloc[-1]
        as_of = pd.Timestamp(run.as_of).date()
        t = wh.table(MONITOR_SCORES.name)
        scores = t.filter((t.target == target) & (t.as_of == as_of)).to_pandas()
        labels = build_labels(wh, target, [as_of], int(run.horizon_days))
        both = scores.merge(labels[["customer_id", "label"]], on="customer_id", how="inner")
        if both["label"].nunique() < 2:
            out.append(skipped(check, target, f"scores of {as_of}: outcomes all one class"))
            continue
        y, p = both["label"].to_numpy(), both["score"].to_numpy(float)
        auc, lo, hi = auroc_with_ci(y, p)
        se = (hi - lo) / (2 * 1.959964)
        holdout = float(both["holdout_auroc"].iloc[0])
        drop = holdout - auc if np.isfinite(holdout) else 0.0
        lift = float(decile_table(y, p)["lift"].iloc[0])
        expected, observed = float(p.sum()), float(y.sum())
        z = (observed - expected) / math.sqrt(max(float((p * (1 - p)).sum()), 1e-9))
        ratio = max(observed, 1e-9) / max(expected, 1e-9)
        decayed = drop >= cfg.auroc_min_drop and se > 0 and drop / se >= cfg.auroc_drop_z
        miscalibrated = abs(z) >= cfg.calibration_z and max(ratio, 1 / ratio) >= cfg.calibration_min_ratio
        values = dict(
            target=target,
            as_of=str(as_of),
            n=len(both),
            auroc=auc,
            holdout=holdout,
            lift=lift,
            holdout_lift=float(both["holdout_lift"].iloc[0]),
            observed=int(observed),
            expected=expected,
        )
        if decayed:
            out.append(
                alert(check, target, "critical", "models.propensity_auroc", value=auc, threshold=holdout, **values)
            )
        elif miscalibrated:
            out.append(
                alert(check, target, "warning", "models.propensity_calibration", value=ratio, threshold=1.0, **values)
            )
        else:
            out.append(ok(check, target, auc, holdout, f"AUROC {auc:.3f} (holdout {holdout:.3f}), lift {lift:.2f}"))
    return out


def scoring_drift(ctx: Context) -> list[Finding]:
    """Per target: whether the latest scoring found its rows drifted from the training rows.

    The drift check of :mod:`carsight.registry.drift`, run at scoring time, lets the drift model
    score instead of the champion; this relays it.
    """
    wh, check = ctx.wh, "models.input_drift"
    if not wh.has_table(PROPENSITY_SCORES.name) or wh.count(PROPENSITY_SCORES.name) == 0:
        return [skipped(check, "scores", "no propensity scores")]
    t = wh.table(PROPENSITY_SCORES.name)
    runs = t.group_by(["target", "drift", "model_used"]).aggregate(n=t.count(), as_of=t.as_of.max()).to_pandas()
    out = []
    for target, g in runs.groupby("target"):
        shifted = g[g["drift"] == "shifted"]
        if shifted.empty:
            out.append(ok(check, target, detail=", ".join(sorted(map(str, g["drift"].unique())))))
            continue
        row = shifted.iloc[0]
        out.append(
            alert(
                check,
                target,
                "info",  # the scoring already answered it with the drift model (docs/propensity-and-clv.md)
                "models.input_drift",
                target=target,
                model=row.model_used,
                as_of=_day(row.as_of),
            )
        )
    return out


def forecast(ctx: Context, history: pd.DataFrame | None) -> list[Finding]:
    """The newest kept forecasts with arrived months, against their backtest error.

    The median over series of (MASE of the arrived months / the chosen method's backtest MASE);
    alerts from ``forecast_error_ratio``.
    """
    cfg, check = ctx.cfg, "models.forecast"
    arrived = arrived_forecasts(ctx, history)
    if arrived is None or arrived.empty:
        return [skipped(check, "forecasts", "no forecast month has arrived yet")]
    per = arrived.groupby("unique_id").agg(
        err=("abs_err", "mean"), scale=("scale", "first"), mase=("mase_backtest", "first"), months=("ds", "nunique")
    )
    per = per[(per["scale"] > 0) & (per["mase"] > 0)]
    if len(per) < cfg.forecast_min_series:
        return [skipped(check, "forecasts", f"{len(per)} series with a backtest (need {cfg.forecast_min_series})")]
    ratio = (per["err"] / per["scale"]) / per["mase"]
    median = float(ratio.median())
    origin = _day(arrived["origin"].iloc[0])
    if median < cfg.forecast_error_ratio:
        return [ok(check, "forecasts", median, cfg.forecast_error_ratio, f"origin {origin}")]
    return [
        alert(
            check,
            "forecasts",
            "critical" if median >= 2 * cfg.forecast_error_ratio else "warning",
            "models.forecast",
            value=median,
            threshold=cfg.forecast_error_ratio,
            origin=origin,
            months=int(per["months"].max()),
            ratio=median,
            n=len(per),
        )
    ]


def arrived_forecasts(ctx: Context, history: pd.DataFrame | None) -> pd.DataFrame | None:
    """The newest kept forecast run's rows whose month has arrived in sales_monthly, with the actual."""
    wh = ctx.wh
    if history is None or not wh.has_table(MONITOR_FORECASTS.name) or wh.count(MONITOR_FORECASTS.name) == 0:
        return None
    t = wh.table(MONITOR_FORECASTS.name)
    last_month = pd.Timestamp(history["ds"].max())
    origins = pd.to_datetime(t.select("origin").distinct().to_pandas()["origin"])
    usable = origins[origins <= last_month]
    if usable.empty:
        return None
    origin = usable.max().date()
    fc = t.filter(t.origin == origin).to_pandas()
    fc["ds"] = pd.to_datetime(fc["ds"])
    fc = fc[fc["ds"] <= last_month].merge(history, on=["unique_id", "ds"], how="inner")
    fc["abs_err"] = (fc["y"] - fc["yhat"]).abs()
    return fc

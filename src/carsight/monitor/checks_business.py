"""Business checks: sales outside the forecast's interval, fewer VIPs, rising complaint keywords.

Actual monthly sales outside the forecast's interval, the share of "Very Strong" RFM customers
falling month on month, and rising keywords in what customers call about.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from carsight.monitor.checks_models import arrived_forecasts
from carsight.monitor.context import Context
from carsight.monitor.findings import Finding, alert, ok, skipped
from carsight.warehouse import schema as S
from carsight.warehouse.results_voc import VOC_RISING


def sales_interval(ctx: Context, history: pd.DataFrame | None) -> list[Finding]:
    """Per series of the levels ``sales_levels``: the newest arrived month against its interval.

    The kept forecast's ``sales_interval_level`` interval; critical when two or more arrived months
    fell outside.
    """
    cfg, check = ctx.cfg, "business.sales_interval"
    arrived = arrived_forecasts(ctx, history)
    if arrived is None or arrived.empty:
        return [skipped(check, "sales", "no forecast month has arrived yet")]
    level = cfg.sales_interval_level
    lo, hi = f"yhat_lo_{level}", f"yhat_hi_{level}"
    arrived = arrived[arrived["level"].isin(cfg.sales_levels)]
    out = []
    for uid, g in arrived.sort_values("ds").groupby("unique_id", sort=True):
        outside = (g["y"] < g[lo]) | (g["y"] > g[hi])
        last = g.iloc[-1]
        if not outside.iloc[-1]:
            out.append(ok(check, uid, float(last["y"]), float(last[hi]), f"{last['ds']:%Y-%m} inside"))
            continue
        out.append(
            alert(
                check,
                uid,
                "critical" if outside.sum() >= 2 else "warning",
                "business.sales_below" if last["y"] < last[lo] else "business.sales_above",
                value=float(last["y"]),
                threshold=float(last[lo] if last["y"] < last[lo] else last[hi]),
                series=uid,
                month=f"{last['ds']:%Y-%m}",
                actual=float(last["y"]),
                lo=float(last[lo]),
                hi=float(last[hi]),
                level=level,
                outside=int(outside.sum()),
                months=len(g),
            )
        )
    return out


def vip_share(ctx: Context) -> list[Finding]:
    """The share of "Very Strong" customers (RFM score ≥ 90) at ``as_of`` against a month earlier.

    Same rules (:func:`carsight.customers.rfm.rfm_table`); an alert when it fell by at least
    ``vip_min_drop_pct`` percent and by ``vip_drop_z`` standard errors (two proportions).
    """
    from carsight.customers.rfm import GRADES, rfm_table

    cfg, wh, check = ctx.cfg, ctx.wh, "business.vip_share"
    if not wh.has_table(S.PURCHASES.name) or wh.count(S.PURCHASES.name) == 0:
        return [skipped(check, "customers", "no purchases")]
    purchases = wh.table(S.PURCHASES.name)
    last = purchases.purchase_date.max().to_pyarrow().as_py()
    as_of = min(ctx.as_of, last + dt.timedelta(days=1))
    before = (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
    shares = []
    for day in (before, as_of):
        rfm = rfm_table(purchases, day, monetary=ctx.settings.customers.monetary)
        counts = rfm.group_by("grade").aggregate(n=rfm.count()).to_pandas().set_index("grade")["n"]
        total = int(counts.sum())
        shares.append((int(counts.get(GRADES[0], 0)), total))
    (k0, n0), (k1, n1) = shares
    if min(n0, n1) == 0 or k0 == 0:
        return [skipped(check, "customers", "no Very Strong customers a month earlier")]
    p0, p1 = k0 / n0, k1 / n1
    pooled = (k0 + k1) / (n0 + n1)
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / n0 + 1 / n1), 1e-12))
    z = (p1 - p0) / se
    drop = 100 * (p0 - p1) / p0
    if not (drop >= cfg.vip_min_drop_pct and z <= -cfg.vip_drop_z):
        return [ok(check, "customers", 100 * p1, 100 * p0, f"{100 * p0:.1f}% → {100 * p1:.1f}%")]
    return [
        alert(
            check,
            "customers",
            "warning",
            "business.vip_share",
            value=100 * p1,
            threshold=100 * p0,
            before=str(before),
            as_of=str(as_of),
            previous=100 * p0,
            current=100 * p1,
            drop=drop,
        )
    ]


def voc_rising(ctx: Context) -> list[Finding]:
    """Keywords the VoC step found rising significantly in its latest period.

    Significant by its Fisher test with Benjamini–Hochberg, at least ``voc_min_ratio`` times their
    share before and mentioned ``voc_min_count`` times.
    """
    cfg, wh, check = ctx.cfg, ctx.wh, "business.voc_rising"
    if not wh.has_table(VOC_RISING.name):
        return [skipped(check, "keywords", "the VoC step has not run")]
    rising = wh.table(VOC_RISING.name).to_pandas()
    if rising.empty:
        return [ok(check, "keywords", detail="no rising keyword")]
    latest = rising[rising["period"] == rising["period"].max()]
    hits = latest[
        latest["significant"] & (latest["ratio"] >= cfg.voc_min_ratio) & (latest["count"] >= cfg.voc_min_count)
    ]
    out = [ok(check, "keywords", float(latest["ratio"].max()), cfg.voc_min_ratio)] if hits.empty else []
    for row in hits.itertuples(index=False):
        out.append(
            alert(
                check,
                str(row.keyword),
                "critical" if row.ratio >= 2 * cfg.voc_min_ratio else "warning",
                "business.voc_rising",
                value=float(row.ratio),
                threshold=cfg.voc_min_ratio,
                keyword=str(row.keyword),
                period=str(row.period),
                count=int(row.count),
                previous=int(row.previous),
                ratio=float(row.ratio),
            )
        )
    return out

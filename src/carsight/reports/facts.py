"""The numbers behind each monthly report, read from the warehouse.

Key figures for the month against the previous month and the same month a year before, biggest
movers, mix changes, and what the pipeline's result tables add (segments, forecasts with their
backtest error, rising complaint keywords) when they are there. Aggregation runs in the warehouse
(Ibis); only small frames come back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import pandas as pd

from carsight.errors import InputError
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM, CUSTOMER_SEGMENTS, SEGMENT_PROFILES
from carsight.warehouse.results_market import FORECAST_CHOICE, FORECASTS
from carsight.warehouse.results_value import PROPENSITY_DECILES, PROPENSITY_METRICS
from carsight.warehouse.results_voc import VOC_RISING, VOC_TOPIC_DAILY

# Below this many events in a month, month-on-month changes are mostly noise: we say so.
THIN = 30


@dataclass(frozen=True)
class Period:
    """A calendar month: its first day and ``YYYY-MM``."""

    start: dt.date  # first day of the month
    label: str  # YYYY-MM

    @classmethod
    def parse(cls, text: str) -> Period:
        """The month written as ``YYYY-MM``."""
        try:
            start = dt.datetime.strptime(str(text).strip(), "%Y-%m").date()
        except ValueError:
            raise InputError(
                f"period '{text}' is not a month", column="period", expected="YYYY-MM, e.g. 2024-05"
            ) from None
        return cls(start, start.strftime("%Y-%m"))

    def shift(self, months: int) -> Period:
        """The month ``months`` later (earlier when negative)."""
        y, m = divmod(self.start.year * 12 + self.start.month - 1 + months, 12)
        start = dt.date(y, m + 1, 1)
        return Period(start, start.strftime("%Y-%m"))

    @property
    def end(self) -> dt.date:
        """The first day of the next month."""
        return self.shift(1).start


@dataclass
class Fact:
    """One sentence of the written summary: a catalogue key and the computed values it cites."""

    key: str
    values: dict = field(default_factory=dict)


@dataclass
class Section:
    """One section of a report: heading, KPIs, table, chart, facts and notes."""

    key: str  # catalogue key of the heading (delivery.report.section.<key>)
    title_values: dict = field(default_factory=dict)
    kpis: list[dict] = field(default_factory=list)  # {label, value, unit, prev, yoy}
    table: pd.DataFrame | None = None
    chart: dict | None = None  # {kind, frame, x, y, series}
    facts: list[Fact] = field(default_factory=list)
    notes: list[Fact] = field(default_factory=list)


def _has(wh: Warehouse, name: str) -> bool:
    """The table exists and the pipeline has filled it (``init`` creates result tables empty)."""
    return wh.has_table(name) and wh.count(name) > 0


def _monthly(expr: ibis.Table, date_col: str, since: dt.date, until: dt.date, **aggs) -> pd.DataFrame:
    d = expr[date_col].cast("date")
    scoped = expr.filter((d >= since) & (d < until))
    month = scoped[date_col].cast("date").truncate("M").name("month")
    frame = scoped.group_by(month).aggregate(**{k: f(scoped) for k, f in aggs.items()}).to_pandas()
    frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
    return frame.sort_values("month").reset_index(drop=True)


def _value(frame: pd.DataFrame, period: Period, column: str) -> float | None:
    row = frame.loc[frame.month == period.label, column]
    return float(row.iloc[0]) if len(row) and pd.notna(row.iloc[0]) else None


def _kpi(label: str, frame: pd.DataFrame, period: Period, column: str, unit: str = "count") -> dict:
    return {
        "label": label,
        "unit": unit,
        "value": _value(frame, period, column) or 0.0,
        "prev": _value(frame, period.shift(-1), column),
        "yoy": _value(frame, period.shift(-12), column),
    }


def change(now: float | None, before: float | None) -> float | None:
    """Relative change; None when there is nothing to compare with."""
    if now is None or before is None or before == 0:
        return None
    return (now - before) / before


def movers(frame: pd.DataFrame, key: str, now: str, before: str, top: int = 5, min_total: float = 0) -> pd.DataFrame:
    """Rows ranked by absolute change between two columns.

    In units, not percent, so a model going from 1 to 3 does not outrank one going from 900 to
    1,300.
    """
    f = frame.fillna({now: 0, before: 0}).copy()
    f = f[(f[now] + f[before]) > min_total]
    f["delta"] = f[now] - f[before]
    f["pct"] = [change(a, b) for a, b in zip(f[now], f[before], strict=True)]
    return f.reindex(f["delta"].abs().sort_values(ascending=False).index).head(top).reset_index(drop=True)


def _month_missing(section: Section, frame: pd.DataFrame, period: Period, what: str) -> bool:
    if period.label not in set(frame.month):
        section.notes.append(Fact("delivery.report.note.no_data", {"what": what, "period": period.label}))
        return True
    return False


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------
def customers_sections(wh: Warehouse, period: Period, lang: str) -> list[Section]:
    """The customers report: purchases and revenue, new customers, segments, propensity."""
    sections = []
    purchases = wh.table(S.PURCHASES.name)
    since = period.shift(-24).start
    monthly = _monthly(
        purchases,
        "purchase_date",
        since,
        period.end,
        purchases=lambda t: t.count(),
        revenue=lambda t: t.amount.sum(),
        buyers=lambda t: t.customer_id.nunique(),
    )
    customers = wh.table(S.CUSTOMERS.name)
    joined = _monthly(
        customers.filter(customers.join_date.notnull()), "join_date", since, period.end, new=lambda t: t.count()
    )
    monthly = monthly.merge(joined, on="month", how="outer").fillna(0).sort_values("month")

    key = Section("customers_kpis")
    key.kpis = [
        _kpi("purchases", monthly, period, "purchases"),
        _kpi("revenue", monthly, period, "revenue", unit="krw"),
        _kpi("buyers", monthly, period, "buyers"),
        _kpi("new_customers", monthly, period, "new"),
    ]
    if not _month_missing(key, monthly, period, "purchases"):
        n = key.kpis[0]
        pct = change(n["value"], n["prev"])
        if pct is not None:
            key.facts.append(Fact("delivery.fact.purchases_change", {"n": n["value"], "pct": pct, "prev": n["prev"]}))
        yoy = change(n["value"], n["yoy"])
        if yoy is not None:
            key.facts.append(Fact("delivery.fact.purchases_yoy", {"pct": yoy, "yoy": n["yoy"]}))
        if n["value"] < THIN:
            key.notes.append(Fact("delivery.report.note.thin", {"n": n["value"], "what": "purchases"}))
    recent = monthly[monthly.month > period.shift(-13).label]
    key.chart = {"kind": "bar", "frame": recent, "x": "month", "y": ["purchases"], "highlight": period.label}
    sections.append(key)

    # Model mix this month against the previous month.
    scoped = purchases.filter(
        (purchases.purchase_date >= period.shift(-1).start) & (purchases.purchase_date < period.end)
    )
    is_now = scoped.purchase_date >= period.start
    by_model = (
        scoped.group_by("model")
        .aggregate(now=is_now.ifelse(1, 0).sum(), before=(~is_now).ifelse(1, 0).sum())
        .to_pandas()
    )
    models = Section("customers_models")
    if len(by_model):
        top = movers(by_model, "model", "now", "before", top=8)
        models.table = top.rename(columns={"now": period.label, "before": period.shift(-1).label})
        best = top.iloc[0]
        if best.delta != 0:
            models.facts.append(
                Fact(
                    "delivery.fact.model_mover_up" if best.delta > 0 else "delivery.fact.model_mover_down",
                    {"model": best.model, "delta": abs(best.delta), "now": best.now, "before": best.before},
                )
            )
        sections.append(models)

    sections.extend(_segment_sections(wh, period, lang))
    return sections


def _segment_sections(wh: Warehouse, period: Period, lang: str) -> list[Section]:
    out = []
    rfm_name = CUSTOMER_RFM.name
    seg_name = CUSTOMER_SEGMENTS.name
    prof_name = SEGMENT_PROFILES.name
    if _has(wh, rfm_name):
        rfm = wh.table(rfm_name)
        groups = rfm.group_by("group").aggregate(customers=rfm.count(), score=rfm.rfm_score.mean()).to_pandas()
        as_of = rfm.as_of.max().to_pyarrow().as_py()
        total = groups.customers.sum()
        groups["share"] = groups.customers / total if total else 0.0
        section = Section("rfm_groups")
        section.table = groups.sort_values("customers", ascending=False).reset_index(drop=True)
        section.chart = {"kind": "barh", "frame": section.table, "x": "group", "y": ["customers"]}
        section.notes.append(Fact("delivery.report.note.snapshot", {"as_of": str(as_of)}))
        vip = groups.loc[groups["group"] == "VIP", "share"]
        if len(vip):
            section.facts.append(Fact("delivery.fact.vip_share", {"share": float(vip.iloc[0]), "n": int(total)}))
        out.append(section)
    else:
        out.append(Section("rfm_groups", notes=[Fact("delivery.report.note.not_computed", {"what": "customer_rfm"})]))

    if _has(wh, seg_name) and _has(wh, prof_name):
        # Segment changes: who bought this month against last month, by customer type.
        seg = wh.table(seg_name)
        p = wh.table(S.PURCHASES.name)
        scoped = p.filter((p.purchase_date >= period.shift(-1).start) & (p.purchase_date < period.end))
        joined = scoped.join(seg, scoped.customer_id == seg.customer_id)
        is_now = joined.purchase_date >= period.start
        mix = (
            joined.group_by("segment_id")
            .aggregate(now=is_now.ifelse(1, 0).sum(), before=(~is_now).ifelse(1, 0).sum())
            .to_pandas()
        )
        profiles = wh.table(prof_name).to_pandas()
        column = f"profile_{lang}" if f"profile_{lang}" in profiles else "profile_en"
        table = profiles[["segment_id", "size", "share", "value", column]].rename(columns={column: "profile"})
        table = table.merge(mix, on="segment_id", how="left").fillna({"now": 0, "before": 0})
        n_now, n_before = table.now.sum(), table.before.sum()
        table["buyer_share_now"] = table.now / n_now if n_now else 0.0
        table["buyer_share_before"] = table.before / n_before if n_before else 0.0
        table["shift"] = table.buyer_share_now - table.buyer_share_before
        section = Section("segments")
        section.table = table.sort_values("segment_id").reset_index(drop=True)
        if n_now >= THIN and n_before >= THIN:
            moved = table.reindex(table["shift"].abs().sort_values(ascending=False).index).iloc[0]
            section.facts.append(
                Fact(
                    "delivery.fact.segment_shift",
                    {
                        "segment": int(moved.segment_id),
                        "before": float(moved.buyer_share_before),
                        "now": float(moved.buyer_share_now),
                    },
                )
            )
        else:
            section.notes.append(Fact("delivery.report.note.thin", {"n": n_now, "what": "buyers"}))
        out.append(section)
    out.extend(_propensity_sections(wh))
    return out


def _propensity_sections(wh: Warehouse) -> list[Section]:
    deciles_name = PROPENSITY_DECILES.name
    metrics_name = PROPENSITY_METRICS.name
    if not _has(wh, deciles_name):
        return []
    deciles = wh.table(deciles_name).to_pandas()
    metrics = wh.table(metrics_name).to_pandas() if _has(wh, metrics_name) else pd.DataFrame()
    out = []
    for target in sorted(deciles.target.unique()):
        own = deciles[deciles.target == target]
        # Show the learned model; a baseline-only table means the learned one was not trusted.
        model = "lightgbm" if (own.model == "lightgbm").any() else own.model.iloc[0]
        table = own[own.model == model].sort_values("decile")
        section = Section("propensity", title_values={"target": target})
        section.table = table[["decile", "customers", "positives", "rate", "lift", "cum_gain", "profit"]].reset_index(
            drop=True
        )
        if len(metrics):
            m = metrics[metrics.target == target].set_index("model")
            if model in m.index and "logistic_baseline" in m.index and pd.notna(m.loc[model, "auroc"]):
                section.facts.append(
                    Fact(
                        "delivery.fact.propensity_auroc",
                        {
                            "target": target,
                            "model": model,
                            "auroc": float(m.loc[model, "auroc"]),
                            "baseline": float(m.loc["logistic_baseline", "auroc"]),
                            "n": int(m.loc[model, "n_test"]),
                        },
                    )
                )
                best = m.loc[model, "best_grade"]
                if pd.notna(best) and int(best) > 0:
                    section.facts.append(
                        Fact("delivery.fact.propensity_best_grade", {"target": target, "grade": int(best)})
                    )
            if model in m.index and isinstance(m.loc[model, "note"], str) and m.loc[model, "note"]:
                section.notes.append(Fact("delivery.report.note.model", {"note": m.loc[model, "note"]}))
        out.append(section)
    return out


# --------------------------------------------------------------------------------------------
# Market
# --------------------------------------------------------------------------------------------
def market_sections(wh: Warehouse, period: Period, lang: str) -> list[Section]:
    """The market report: units, movers, mix, drivers and forecasts."""
    sales = wh.table(S.SALES_MONTHLY.name)
    since = period.shift(-24).start
    scoped = sales.filter((sales.month >= since) & (sales.month < period.end))
    by_kind = scoped.group_by(["month", "kind"]).aggregate(units=scoped.units.sum()).to_pandas()
    by_kind["month"] = pd.to_datetime(by_kind["month"]).dt.strftime("%Y-%m")
    wide = by_kind.pivot_table(index="month", columns="kind", values="units", aggfunc="sum").fillna(0)
    wide["total"] = wide.sum(axis=1)
    monthly = wide.reset_index()
    key = Section("market_kpis")
    key.kpis = [_kpi("units", monthly, period, "total")]
    for kind in S.SALES_KINDS:
        if kind in monthly:
            key.kpis.append(_kpi(kind, monthly, period, kind))
    if not _month_missing(key, monthly, period, "sales_monthly"):
        total = key.kpis[0]
        pct, yoy = change(total["value"], total["prev"]), change(total["value"], total["yoy"])
        if pct is not None:
            key.facts.append(Fact("delivery.fact.units_change", {"n": total["value"], "pct": pct}))
        if yoy is not None:
            key.facts.append(Fact("delivery.fact.units_yoy", {"pct": yoy}))
    kinds = [k for k in S.SALES_KINDS if k in monthly]
    key.chart = {"kind": "stacked", "frame": monthly, "x": "month", "y": kinds, "highlight": period.label}
    sections = [key]

    # Biggest movers by model (all markets), month on month.
    two = sales.filter((sales.month >= period.shift(-1).start) & (sales.month < period.end))
    is_now = two.month >= period.start
    by_model = (
        two.group_by("model")
        .aggregate(now=is_now.ifelse(two.units, 0).sum(), before=(~is_now).ifelse(two.units, 0).sum())
        .to_pandas()
    )
    if len(by_model):
        section = Section("market_movers")
        top = movers(by_model, "model", "now", "before", top=10)
        section.table = top.rename(columns={"now": period.label, "before": period.shift(-1).label})
        up = top[top.delta > 0].head(1)
        down = top[top.delta < 0].head(1)
        for frame, key_name in ((up, "delivery.fact.model_mover_up"), (down, "delivery.fact.model_mover_down")):
            if len(frame):
                r = frame.iloc[0]
                section.facts.append(
                    Fact(key_name, {"model": r.model, "delta": abs(r.delta), "now": r.now, "before": r.before})
                )
        sections.append(section)

    # Markets, this month against the same month last year.
    year = sales.filter(
        ((sales.month >= period.start) & (sales.month < period.end))
        | ((sales.month >= period.shift(-12).start) & (sales.month < period.shift(-11).start))
    )
    is_now = year.month >= period.start
    by_market = (
        year.group_by("market")
        .aggregate(now=is_now.ifelse(year.units, 0).sum(), before=(~is_now).ifelse(year.units, 0).sum())
        .to_pandas()
    )
    if len(by_market):
        section = Section("markets")
        by_market["pct"] = [change(a, b) for a, b in zip(by_market.now, by_market.before, strict=True)]
        section.table = (
            by_market.sort_values("now", ascending=False)
            .head(12)
            .rename(columns={"now": period.label, "before": period.shift(-12).label})
            .reset_index(drop=True)
        )
        sections.append(section)
    sections.extend(_drivers_sections(wh, period))
    sections.extend(_forecast_sections(wh, period))
    return sections


def _drivers_sections(wh: Warehouse, period: Period) -> list[Section]:
    """The segments that explain the change in units against a year before.

    Segments are model × market × kind, against the same month a year before
    (``carsight.market.drivers``): one paragraph and its table.
    """
    from carsight.market.driver_pipeline import sales_change

    before = period.shift(-12)
    result = sales_change(wh, (before.start, before.start), (period.start, period.start), max_segments=5)
    if not result.base_total or not result.current_total or not len(result.segments):
        return []
    section = Section("drivers")
    table = result.segments.assign(segment=result.labels())
    section.table = table[["segment", "base", "current", "change", "share_of_change"]]
    values = {"period": period.label, "before_period": before.label, "change": result.change}
    section.facts.append(Fact("delivery.fact.drivers_total", {**values, "pct": result.change / result.base_total}))
    for i, key in ((0, "delivery.fact.drivers_top"), (1, "delivery.fact.drivers_next")):
        if i < len(table) and pd.notna(table.share_of_change.iloc[i]):
            row = table.iloc[i]
            facts = {"segment": row.segment, "seg_change": row.change, "share": row.share_of_change}
            facts.update(n=len(table), explained=result.explained)
            section.facts.append(Fact(key, facts))
    return [section]


def _forecast_sections(wh: Warehouse, period: Period) -> list[Section]:
    """Next three months per total and market series beside a year before.

    With the chosen method's backtest error against its baseline; risks are falls and weak
    backtests.
    """
    fc_name = FORECASTS.name
    choice_name = FORECAST_CHOICE.name
    if not _has(wh, fc_name):
        return []
    fc = wh.table(fc_name)
    top = fc.filter(fc.level.isin(["total", "market"])).to_pandas()
    if not len(top):
        return []
    top["ds"] = pd.to_datetime(top["ds"])
    first = top["ds"].min()
    window = top[top["ds"] < first + pd.DateOffset(months=3)]
    ahead = window.groupby(["unique_id", "level"], as_index=False).agg(
        forecast=("yhat", "sum"), lo_80=("yhat_lo_80", "sum"), hi_80=("yhat_hi_80", "sum")
    )
    # The same three months a year before, from the source table (markets by name, the total over all).
    sales = wh.table(S.SALES_MONTHLY.name)
    start = (first - pd.DateOffset(years=1)).date()
    end = (first - pd.DateOffset(years=1) + pd.DateOffset(months=3)).date()
    last_year = sales.filter((sales.month >= start) & (sales.month < end))
    by_market = last_year.group_by("market").aggregate(units=last_year.units.sum()).to_pandas()
    previous = {f"market:{m}": float(u) for m, u in zip(by_market.market, by_market.units, strict=True)}
    previous["Total"] = float(by_market.units.sum())
    ahead["last_year"] = [previous.get(uid, previous.get(uid.split(":", 1)[-1])) for uid in ahead.unique_id]
    ahead["pct"] = [change(f, p) for f, p in zip(ahead.forecast, ahead.last_year, strict=True)]
    if _has(wh, choice_name):
        choice = wh.table(choice_name).to_pandas()[["unique_id", "model_name", "mase", "mase_snaive", "warning"]]
        ahead = ahead.merge(choice, on="unique_id", how="left")
    else:
        ahead = ahead.assign(model_name=None, mase=None, mase_snaive=None, warning=None)
    ahead = ahead.sort_values(["level", "forecast"], ascending=[False, False]).head(12).reset_index(drop=True)
    section = Section("forecasts", title_values={"from": first.strftime("%Y-%m")})
    section.table = ahead[
        ["unique_id", "forecast", "lo_80", "hi_80", "last_year", "pct", "model_name", "mase", "mase_snaive", "warning"]
    ]
    total = ahead[ahead.unique_id == "Total"]
    if len(total) and pd.notna(total.pct.iloc[0]):
        r = total.iloc[0]
        section.facts.append(
            Fact(
                "delivery.fact.forecast_total",
                {"start": first.strftime("%Y-%m"), "n": r.forecast, "lo": r.lo_80, "hi": r.hi_80, "pct": r.pct},
            )
        )
    markets = ahead[(ahead.level == "market") & ahead.pct.notna()]
    if len(markets):
        worst = markets.sort_values("pct").iloc[0]
        if worst.pct < 0:
            section.facts.append(
                Fact("delivery.fact.forecast_fall", {"series": worst.unique_id.split(":", 1)[-1], "pct": worst.pct})
            )
    weak = ahead[pd.to_numeric(ahead.mase, errors="coerce") >= pd.to_numeric(ahead.mase_snaive, errors="coerce")]
    if len(weak):
        section.facts.append(
            Fact("delivery.fact.forecast_weak", {"n": len(weak), "series": ", ".join(weak.unique_id.head(3))})
        )
    if first.to_period("M") != pd.Timestamp(period.shift(1).start).to_period("M"):
        section.notes.append(Fact("delivery.report.note.forecast_origin", {"start": first.strftime("%Y-%m")}))
    return [section]


# --------------------------------------------------------------------------------------------
# Voice of the customer
# --------------------------------------------------------------------------------------------
def voc_sections(wh: Warehouse, period: Period, lang: str) -> list[Section]:
    """The VoC report: consultations, topics and rising complaint keywords."""
    cons = wh.table(S.CONSULTATIONS.name)
    since = period.shift(-12).start
    monthly = _monthly(cons, "consulted_at", since, period.end, consultations=lambda t: t.count())
    key = Section("voc_kpis")
    key.kpis = [_kpi("consultations", monthly, period, "consultations")]
    if not _month_missing(key, monthly, period, "consultations"):
        k = key.kpis[0]
        pct = change(k["value"], k["prev"])
        if pct is not None:
            key.facts.append(Fact("delivery.fact.consultations_change", {"n": k["value"], "pct": pct}))
        if k["value"] < THIN:
            key.notes.append(Fact("delivery.report.note.thin", {"n": k["value"], "what": "consultations"}))
    key.chart = {"kind": "bar", "frame": monthly, "x": "month", "y": ["consultations"], "highlight": period.label}
    sections = [key]

    day = cons.consulted_at.cast("date")
    two = cons.filter((day >= period.shift(-1).start) & (day < period.end))
    is_now = two.consulted_at.cast("date") >= period.start
    for column, section_key in (("category", "voc_categories"), ("model", "voc_models")):
        grouped = (
            two.filter(two[column].notnull())
            .group_by(column)
            .aggregate(now=is_now.ifelse(1, 0).sum(), before=(~is_now).ifelse(1, 0).sum())
            .to_pandas()
        )
        if not len(grouped):
            continue
        section = Section(section_key)
        grouped["delta"] = grouped.now - grouped.before
        grouped["pct"] = [change(a, b) for a, b in zip(grouped.now, grouped.before, strict=True)]
        section.table = (
            grouped.sort_values("now", ascending=False)
            .head(10)
            .rename(columns={"now": period.label, "before": period.shift(-1).label})
            .reset_index(drop=True)
        )
        rising = grouped[(grouped.before >= 5) & (grouped.delta > 0)].sort_values("delta", ascending=False)
        if len(rising):
            r = rising.iloc[0]
            section.facts.append(
                Fact("delivery.fact.voc_rising", {"what": r[column], "now": r.now, "before": r.before, "pct": r.pct})
            )
        sections.append(section)
    sections.extend(_voc_result_sections(wh, period))
    return sections


def _voc_result_sections(wh: Warehouse, period: Period) -> list[Section]:
    out = []
    rising_name = VOC_RISING.name
    if _has(wh, rising_name):
        rising = wh.table(rising_name)
        frame = rising.filter(rising.period == period.label).to_pandas()
        section = Section("voc_keywords")
        if len(frame):
            frame = frame.sort_values(["significant", "ratio"], ascending=[False, False]).head(12)
            section.table = frame[["keyword", "count", "previous", "ratio", "q_value", "significant"]].reset_index(
                drop=True
            )
            top = frame[frame.significant]
            for r in top.head(3).itertuples():
                section.facts.append(
                    Fact(
                        "delivery.fact.keyword_rising",
                        {"keyword": r.keyword, "now": r.count, "before": r.previous, "ratio": r.ratio},
                    )
                )
            if not len(top):
                section.notes.append(Fact("delivery.report.note.no_significant", {}))
        else:
            section.notes.append(Fact("delivery.report.note.no_data", {"what": "voc_rising", "period": period.label}))
        out.append(section)
    topic_name = VOC_TOPIC_DAILY.name
    if _has(wh, topic_name):
        topics = wh.table(topic_name)
        two = topics.filter(
            (topics.date >= period.shift(-1).start) & (topics.date < period.end) & topics.topic.notnull()
        )
        is_now = two.date >= period.start
        grouped = (
            two.group_by("topic")
            .aggregate(now=is_now.ifelse(two["count"], 0).sum(), before=(~is_now).ifelse(two["count"], 0).sum())
            .to_pandas()
        )
        if len(grouped):
            section = Section("voc_topics")
            grouped["delta"] = grouped.now - grouped.before
            grouped["pct"] = [change(a, b) for a, b in zip(grouped.now, grouped.before, strict=True)]
            section.table = (
                grouped.sort_values("now", ascending=False)
                .rename(columns={"now": period.label, "before": period.shift(-1).label})
                .reset_index(drop=True)
            )
            out.append(section)
    return out


BUILDERS = {"customers": customers_sections, "market": market_sections, "voc": voc_sections}

"""Data checks: fresh tables, rejected rows, and drift of the models' input tables.

Is every table fresh, did loads reject rows, and do the new rows of the models' input tables still
look like the rows the models were trained on (the one drift check of :mod:`carsight.registry.drift`:
per-column PSI and the adversarial AUROC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carsight.config import MonitorSettings
from carsight.monitor.context import Context
from carsight.monitor.findings import Finding, alert, ok, skipped
from carsight.registry.drift import DriftCheck
from carsight.warehouse import schema as S

# Tables of dated records; the line-up and the declared events are reference data, not a feed.
FRESHNESS_TABLES = tuple(t for t in S.SOURCE_TABLES.values() if t.date_column and t not in (S.VEHICLES, S.EVENTS))
# The columns of the source tables the customer models (RFM, propensity, CLV, recommendations) learn from.
MODEL_INPUTS = {
    S.PURCHASES: ("amount", "channel", "payment_type", "model"),
    S.LEADS: ("lead_type", "channel", "model"),
    S.SERVICE_VISITS: ("service_type", "amount", "mileage_km"),
}
REFERENCE_DAYS = 365  # the rows a new batch is compared with: the year before the reference date


def freshness(ctx: Context) -> list[Finding]:
    """Per table: stale when its newest date is older than its own rhythm explains.

    The threshold is ``freshness_factor`` × the 95th percentile of the gaps between the table's
    consecutive dates over its last year (a daily feed: days; a monthly table: a month), at least
    ``freshness_min_days``, unless ``freshness_max_days`` sets it for the table.
    """
    cfg, wh, out = ctx.cfg, ctx.wh, []
    for table in FRESHNESS_TABLES:
        check = "data.freshness"
        if not wh.has_table(table.name) or wh.count(table.name) == 0:
            out.append(skipped(check, table.name, "no rows loaded"))
            continue
        t = wh.table(table.name)
        col = t[table.date_column]
        newest = pd.Timestamp(col.max().to_pyarrow().as_py())
        since = newest - pd.Timedelta(days=400)
        days = t.filter(col >= since.to_pydatetime()).select(d=col).distinct().to_pandas()["d"]
        dates = np.sort(pd.to_datetime(days).dt.normalize().unique())
        gaps = np.diff(dates).astype("timedelta64[D]").astype(float) if len(dates) > 1 else np.array([])
        usual = float(np.percentile(gaps, 95)) if len(gaps) else 0.0
        limit = float(cfg.freshness_max_days.get(table.name, max(cfg.freshness_min_days, cfg.freshness_factor * usual)))
        age = float((pd.Timestamp(ctx.as_of) - newest.normalize()).days)
        if age <= limit:
            out.append(ok(check, table.name, age, limit, f"newest {newest:%Y-%m-%d}, {age:.0f} days old"))
            continue
        out.append(
            alert(
                check,
                table.name,
                "critical" if age > 3 * limit else "warning",
                "data.freshness",
                value=age,
                threshold=limit,
                table=table.name,
                newest=f"{newest:%Y-%m-%d}",
                age=int(age),
                limit=int(round(limit)),
                usual=int(round(usual)),
            )
        )
    return out


def rejections(ctx: Context) -> list[Finding]:
    """Per loaded file: rows the loader quarantined in its latest load.

    Loads of the last ``rejection_lookback_days`` of loading activity count.

    Critical from ``rejection_critical_share`` of the file's rows (a changed layout or column), a
    warning from ``rejection_warning_share``, else information (a few bad rows to fix by hand).
    """
    cfg, wh, check = ctx.cfg, ctx.wh, "data.rejections"
    if not wh.has_table(S.LOAD_LOG.name) or wh.count(S.LOAD_LOG.name) == 0:
        return [skipped(check, "load_log", "nothing loaded yet")]
    log = wh.table(S.LOAD_LOG.name).to_pandas()
    log["started_at"] = pd.to_datetime(log["started_at"])
    recent = log[log["started_at"] >= log["started_at"].max() - pd.Timedelta(days=cfg.rejection_lookback_days)]
    latest = recent.sort_values("started_at").groupby(["table_name", "source_file"], as_index=False).tail(1)
    out = []
    for row in latest.itertuples(index=False):
        subject = f"{row.table_name}/{row.source_file}"
        share = row.rejected / row.rows_read if row.rows_read else 0.0
        if not row.rejected:
            out.append(ok(check, subject, 0.0, cfg.rejection_warning_share))
            continue
        severity = (
            "critical"
            if share >= cfg.rejection_critical_share
            else "warning"
            if share >= cfg.rejection_warning_share
            else "info"
        )
        out.append(
            alert(
                check,
                subject,
                severity,
                "data.rejections",
                value=share,
                threshold=cfg.rejection_critical_share,
                table=row.table_name,
                file=row.source_file,
                rejected=int(row.rejected),
                rows=int(row.rows_read),
                pct=100 * share,
                when=f"{row.started_at:%Y-%m-%d %H:%M}",
            )
        )
    return out


def _encoded(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats, text as categories of the reference rows: what the adversarial classifier reads."""
    out = {}
    for name in reference.columns:
        if pd.api.types.is_numeric_dtype(reference[name]):
            out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        else:
            cats = reference[name].astype("string").fillna("<NA>").value_counts().index[:30]
            text = frame[name].astype("string").fillna("<NA>")
            out[name] = pd.Categorical(text.where(text.isin(cats), "<other>"), categories=[*cats, "<other>"])
    return pd.DataFrame(out, index=frame.index)


@dataclass
class DriftVerdict:
    """The drift check of two sets of rows, and the columns the monitor calls shifted."""

    check: DriftCheck
    psi: pd.Series  # per column
    limits: pd.Series  # per column: the PSI above which it counts as shifted
    shifted: pd.Series  # PSI of the shifted columns, largest first

    @property
    def alert(self) -> bool:
        """Material drift, or at least one shifted column."""
        return bool(self.check.material or len(self.shifted))


MIN_EXPECTED = 10  # rows a category must be expected to have on the smaller side to be compared alone
FALSE_ALARM = 0.01  # chance of calling any column of a table shifted when nothing changed


def _pool_rare(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Text columns with the categories too rare to compare pooled into one.

    Too rare: fewer than MIN_EXPECTED rows expected on the smaller side; PSI of a category seen once
    or twice is noise.
    """
    floor = MIN_EXPECTED / max(1, min(len(before), len(after)))
    before, after = before.copy(), after.copy()
    for name in before.columns:
        if pd.api.types.is_numeric_dtype(before[name]):
            continue
        share = before[name].astype("string").fillna("<NA>").value_counts(normalize=True)
        keep = set(share[share >= floor].index)
        for frame in (before, after):
            text = frame[name].astype("string").fillna("<NA>")
            frame[name] = text.where(text.isin(keep), "<rare>")
    return before, after


def drift_verdict(before: pd.DataFrame, after: pd.DataFrame, cfg: MonitorSettings) -> DriftVerdict:
    """The one drift check of ``after`` against ``before``, and the monitor's shifted columns.

    :func:`carsight.registry.check_drift`, with the monitor's rule for a shifted column.

    Categories too rare to compare are pooled first (:func:`_pool_rare`). A column has then shifted
    when its PSI exceeds ``drift_psi`` (0.25, the usual reading) *and* what chance alone gives two
    sets of rows of these sizes: with no change, PSI × n₁n₂ / (n₁ + n₂) is about χ² with K − 1
    degrees of freedom (K: the column's bins or categories), taken at 1% over all the table's columns
    together (Bonferroni). Without both, on public flight data 58% of random halves of one month
    (300 rows a side, ~100 destinations) passed 0.25 (bench/monitor_drift.py).
    """
    from scipy.stats import chi2

    from carsight.customers.encoding import typed_for_drift
    from carsight.registry import check_drift, profile_frame

    before, after = _pool_rare(typed_for_drift(before), typed_for_drift(after))
    profile = profile_frame(before)
    check = check_drift(profile, _encoded(before, before), after, _encoded(after, before), threshold=cfg.drift_auroc)
    psi = check.psi.table.set_index("feature")["psi"].astype(float)
    bins = {c: len(p["share"]) + (p["type"] != "numeric") for c, p in profile.items()}
    level = 1 - FALSE_ALARM / max(1, len(psi))
    chance = 1 / len(before) + 1 / len(after)
    limits = pd.Series(
        {c: max(cfg.drift_psi, float(chi2.ppf(level, max(bins.get(c, 2) - 1, 1))) * chance) for c in psi.index},
        dtype=float,
    )
    shifted = psi[psi > limits].sort_values(ascending=False)
    return DriftVerdict(check, psi, limits, shifted)


def input_drift(ctx: Context) -> list[Finding]:
    """Per input table: the rows dated after the reference date against the year before it.

    The reference date is the day the saved models were trained (else a month before ``as_of``);
    the comparison is :func:`drift_verdict` (the one drift check).

    Critical when the rows as a whole sit apart (adversarial AUROC ≥ ``drift_auroc``), a warning
    when a column alone shifted (PSI > ``drift_psi``).
    """
    cfg, wh, out = ctx.cfg, ctx.wh, []
    reference = ctx.reference_date
    for table, columns in MODEL_INPUTS.items():
        check = "data.drift"
        if not wh.has_table(table.name) or wh.count(table.name) == 0:
            out.append(skipped(check, table.name, "no rows loaded"))
            continue
        t = wh.table(table.name)
        date = t[table.date_column]
        start = reference - dt.timedelta(days=REFERENCE_DAYS)
        frame = t.filter(date >= start).select(*columns, _date=date).to_pandas()
        frame["_date"] = pd.to_datetime(frame["_date"]).dt.date
        before = frame[frame["_date"] < reference].drop(columns="_date")
        after = frame[frame["_date"] >= reference].drop(columns="_date")
        if min(len(before), len(after)) < cfg.drift_min_rows:
            out.append(skipped(check, table.name, f"{len(after)} rows since {reference} (need {cfg.drift_min_rows})"))
            continue
        verdict = drift_verdict(before, after, cfg)
        result, moved = verdict.check, verdict.shifted
        if not verdict.alert:
            out.append(
                ok(check, table.name, result.adversarial_auroc, cfg.drift_auroc, f"max PSI {verdict.psi.max():.3f}")
            )
            continue
        out.append(
            alert(
                check,
                table.name,
                "critical" if result.material else "warning",
                "data.drift",
                value=result.adversarial_auroc,
                threshold=cfg.drift_auroc,
                table=table.name,
                rows=len(after),
                since=str(reference),
                auroc=result.adversarial_auroc,
                columns=", ".join(f"{c} (PSI {v:.2f})" for c, v in moved.items()) or "—",
            )
        )
    return out

"""Monthly series in long format (``unique_id, ds, y``): reading, checking and regularising them.

They are read from files, checked, and made regular (one row per month, gaps filled) with a warning
per series for what was done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from carsight.errors import InputError

ID, DS, Y = "unique_id", "ds", "y"
STOPPED_MONTHS = 6  # a run of zero months this long at the end says "no sales lately (discontinued?)"


@dataclass
class SeriesInfo:
    """What preparation found out about one series; ``warnings`` are sentences for the user."""

    unique_id: str
    n: int
    start: pd.Timestamp
    end: pd.Timestamp
    zero_share: float
    # Months of its current run of zeros when that run is its longest ever and at least
    # STOPPED_MONTHS long: the product is no longer sold (0 otherwise).
    stopped: int = 0
    # (catalogue key, values) pairs, rendered in the user's language by :meth:`messages`.
    warnings: list[tuple[str, dict]] = field(default_factory=list)

    def warn(self, key: str, **values) -> None:
        """Record a warning: its message catalogue key (under ``market.warning``) and the values it names."""
        self.warnings.append((key, values))

    def messages(self, lang: str = "en") -> list[str]:
        """The warnings as sentences in ``lang``."""
        from carsight.i18n import t

        return [t(f"market.warning.{key}", lang, **values) for key, values in self.warnings]


def check_long(frame: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Validate a long frame (``unique_id, ds, y``): monthly dates, numbers, one row per id and month.

    Returns a copy with ``ds`` at month start and ``y`` as float; raises :class:`InputError` naming
    the first offending row (1 = first data row) otherwise.
    """
    missing = [c for c in (ID, DS, Y) if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", file=file, expected="columns unique_id, ds, y (long format)"
        )
    out = frame[[ID, DS, Y]].copy().reset_index(drop=True)
    out[ID] = out[ID].astype(str)
    if not pd.api.types.is_datetime64_any_dtype(out[DS]):
        parsed = pd.to_datetime(out[DS], errors="coerce")
        bad = parsed.isna() & out[DS].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"'{out[DS].iloc[i]}' is not a date",
                file=file,
                row=i + 1,
                column=DS,
                expected="a month such as 2024-03",
            )
        out[DS] = parsed
    if out[DS].isna().any():
        i = int(np.flatnonzero(out[DS].isna().to_numpy())[0])
        raise InputError("empty date", file=file, row=i + 1, column=DS, expected="a month such as 2024-03")
    if not pd.api.types.is_numeric_dtype(out[Y]):
        values = pd.to_numeric(out[Y], errors="coerce")
        bad = values.isna() & out[Y].notna() & (out[Y].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"'{out[Y].iloc[i]}' is not a number", file=file, row=i + 1, column=Y, expected="a number")
        out[Y] = values
    out[Y] = out[Y].astype(float)
    out[DS] = pd.DatetimeIndex(out[DS]).tz_localize(None)
    month = out[DS].dt.to_period("M").dt.to_timestamp()
    # Two rows of one series in the same month: either daily/weekly data or a duplicated row.
    dup = pd.Series(list(zip(out[ID], month, strict=True))).duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        same_day = ((out[ID] == out[ID].iloc[i]) & (out[DS] == out[DS].iloc[i])).sum() > 1
        if same_day:
            raise InputError(
                f"series '{out[ID].iloc[i]}' has {out[DS].iloc[i]:%Y-%m} twice",
                file=file,
                row=i + 1,
                column=DS,
                expected="one row per series and month (remove duplicates)",
            )
        raise InputError(
            f"series '{out[ID].iloc[i]}' has more than one date in {out[DS].iloc[i]:%Y-%m}: the dates are not monthly",
            file=file,
            row=i + 1,
            column=DS,
            expected="monthly data: one row per series and month (aggregate daily or weekly data first)",
        )
    out[DS] = month
    return out.sort_values([ID, DS], kind="stable").reset_index(drop=True)


def regularise(
    frame: pd.DataFrame, *, fill: str = "zero", season_length: int = 12
) -> tuple[pd.DataFrame, dict[str, SeriesInfo]]:
    """One row per month from each series' first non-zero value to its last month, gaps filled.

    ``fill="zero"`` suits sales (a month without a row sold nothing); ``"interpolate"`` suits levels
    (prices, temperatures). Leading zeros are dropped: a model launched in 2022 has no 2019 sales to learn.
    """
    if fill not in ("zero", "interpolate"):
        raise InputError(f"unknown fill '{fill}'", column="fill", expected="zero or interpolate")
    infos: dict[str, SeriesInfo] = {}
    if frame.empty:
        return pd.DataFrame({ID: pd.Series(dtype=str), DS: pd.Series(dtype="datetime64[ns]"), Y: []}), infos
    frame = frame.sort_values([ID, DS], kind="stable")
    ids = frame[ID].astype(str).to_numpy()
    stamps = pd.DatetimeIndex(frame[DS])
    months = stamps.year.to_numpy() * 12 + stamps.month.to_numpy() - 1
    values_all = frame[Y].to_numpy(float)
    edges = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1, len(ids)]
    out_ids, out_months, out_values = [], [], []
    # One pass over plain arrays: 1,400 series in a tenth of the time pandas takes per series.
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        uid, m, v = ids[a], months[a:b], values_all[a:b]
        notes: list[tuple[str, dict]] = []
        nonzero = np.nan_to_num(v) != 0
        if not nonzero.any():
            full_m, full_v = m, np.nan_to_num(v)
        else:
            first = int(np.argmax(nonzero))
            m, v = m[first:], v[first:]
            full_m = np.arange(m[0], m[-1] + 1)
            full_v = np.full(len(full_m), np.nan)
            full_v[m - m[0]] = v
            gaps = int(np.isnan(full_v).sum())
            if gaps:
                missing = np.isnan(full_v)
                if fill == "zero":
                    full_v[missing] = 0.0
                    notes.append(("gaps_zero", {"n": gaps}))
                else:
                    full_v[missing] = np.interp(full_m[missing], full_m[~missing], full_v[~missing])
                    notes.append(("gaps_interpolated", {"n": gaps}))
        n = len(full_v)
        recent = full_v[-min(n, 24) :]
        info = SeriesInfo(
            unique_id=uid,
            n=n,
            start=_month_start(full_m[0]),
            end=_month_start(full_m[-1]),
            zero_share=float(np.mean(recent == 0)) if n else 1.0,
            warnings=notes,
        )
        _describe(full_v, info, season_length)
        infos[uid] = info
        out_ids.append(np.full(n, uid, dtype=object))
        out_months.append(full_m)
        out_values.append(full_v)
    month = np.concatenate(out_months)
    ds = pd.to_datetime({"year": month // 12, "month": month % 12 + 1, "day": 1})
    return pd.DataFrame({ID: np.concatenate(out_ids), DS: ds.to_numpy(), Y: np.concatenate(out_values)}), infos


def _month_start(month: int) -> pd.Timestamp:
    return pd.Timestamp(year=int(month // 12), month=int(month % 12 + 1), day=1)


def _describe(values: np.ndarray, info: SeriesInfo, m: int) -> None:
    """Add warnings for what makes a series hard: no sales lately, a level shift, all zeros."""
    n = len(values)
    if n and np.all(values == 0):
        info.warn("all_zero")
        return
    tail = 0
    for v in values[::-1]:
        if v != 0:
            break
        tail += 1
    if tail >= STOPPED_MONTHS:
        info.warn("stopped", n=tail)
        # Stopped, not intermittent: no earlier run of zeros (after the first sale) was as long.
        zero = np.r_[values[: n - tail] == 0, False]
        runs = np.diff(np.flatnonzero(np.diff(np.r_[False, zero].astype(int)) != 0))[::2] if zero.any() else []
        if tail > (max(runs) if len(runs) else 0):
            info.stopped = tail
    # A level shift within the last year: medians (so one spike does not count) of the last 12 months
    # against the 12 before, or of the last 6 against the 12 before them.
    if n >= 24 and tail < 6:
        pairs = [
            (np.median(values[-12:]), np.median(values[-24:-12]), 1.6),
            (np.median(values[-6:]), np.median(values[-18:-6]), 2.0),
        ]
        shifted = [(r, b) for r, b, k in pairs if b > 0 and (r / b > k or r / b < 1 / k)]
        if shifted:
            recent, before = shifted[0]
            info.warn("level_shift", recent=float(recent), before=float(before))


def read_long_file(
    path: str | Path,
    *,
    id_col: str | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    year: int | None = None,
    keys: list[str] | None = None,
) -> pd.DataFrame:
    """Read a series file (long, or wide with month columns) into a checked ``unique_id, ds, y`` frame.

    Goes through ``carsight.ingest`` so encodings, ``" 4,120 "``, ``-`` for zero and wide month tables
    (1월..12월, Jan..Dec) are cleaned exactly as ``carsight ingest`` does. A wide table's id is made of
    its non-month, non-year columns (e.g. ``model/market``). With ``keys`` (a hierarchy such as
    ``["brand", "model"]``) the id is those columns joined by "/", and they are kept as columns.
    """
    from carsight import ingest

    name = Path(path).name
    raw = ingest.read_raw(path, encoding=encoding, sheet=sheet)
    raw.columns = [str(c).strip() for c in raw.columns]
    if len(raw) == 0:
        raise InputError("the file has no data rows", file=name, expected="at least 3 rows per series")
    if date_col is None and value_col is None and _looks_wide(raw):
        from carsight.ingest.wide import is_subtotal, is_total_header, month_columns

        # Subtotal rows (합계, Total) would count every unit twice.
        months = month_columns([str(c) for c in raw.columns])
        ids = [c for c in raw.columns if c not in months and not is_total_header(c)]
        keep = ~np.logical_or.reduce([is_subtotal(raw[c].astype(str)).to_numpy() for c in ids]) if ids else None
        if keep is not None:
            raw = raw[keep].reset_index(drop=True)
        long = ingest.melt_wide(raw, year=year, file_name=name, value_name="y")
        if "month" not in long.columns:
            raise InputError("could not find the month columns", file=name, expected="columns 1월..12월 or Jan..Dec")
        id_cols = keys or ([id_col] if id_col else [c for c in long.columns if c not in _NOT_KEYS])
        _require(long, id_cols, name, "--hierarchy" if keys else "--id-col")
        frame = pd.DataFrame(
            {
                ID: long[id_cols].astype(str).agg("/".join, axis=1) if id_cols else "series",
                DS: ingest.parse_dates(long["month"]),
                Y: ingest.clean_number(long["y"], dash_is_zero=True),
            }
        )
        return _with_keys(check_long(frame, file=name), keys)
    date_col = date_col or _pick(raw, (DS, "date", "month", "월", "날짜", "기간"), "date", name, "--date-col")
    value_col = value_col or _pick(
        raw, (Y, "value", "units", "sales", "판매", "대수", "수량"), "value", name, "--value-col"
    )
    if id_col is None:
        id_col = next((c for c in raw.columns if c.lower() in (ID, "id", "series", "model", "모델")), None)
    for col, flag in ((date_col, "--date-col"), (value_col, "--value-col"), (id_col, "--id-col")):
        if col is not None and col not in raw.columns:
            raise InputError(
                f"no column '{col}'", file=name, column=col, expected=f"{flag} naming one of: {', '.join(raw.columns)}"
            )
    text = raw[value_col].astype(str).str.strip()
    values = ingest.clean_number(raw[value_col], dash_is_zero=True)
    bad = values.isna() & raw[value_col].notna() & (text != "") & (text.str.lower() != "nan")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"'{raw[value_col].iloc[i]}' is not a number", file=name, row=i + 1, column=value_col, expected="a number"
        )
    dates = ingest.parse_dates(raw[date_col])
    bad = dates.isna() & raw[date_col].notna() & (raw[date_col].astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"'{raw[date_col].iloc[i]}' is not a date",
            file=name,
            row=i + 1,
            column=date_col,
            expected="a month such as 2024-03",
        )
    if keys:
        _require(raw, keys, name, "--hierarchy")
        ids = raw[keys].astype(str).agg("/".join, axis=1)
    else:
        ids = raw[id_col].astype(str) if id_col else "series"
    frame = pd.DataFrame({ID: ids, DS: dates, Y: values})
    try:
        return _with_keys(check_long(frame, file=name), keys)
    except InputError as exc:
        # Name the user's column, not the internal one.
        exc.column = {ID: id_col, DS: date_col, Y: value_col}.get(exc.column, exc.column)
        raise InputError(exc.message, exc.file, exc.row, exc.column, exc.expected) from None


_NOT_KEYS = ("month", "y", "year", "연도", "년도", "_row", "file_name", "source_file")


def _require(frame: pd.DataFrame, cols: list[str], file: str, flag: str) -> None:
    for col in cols:
        if col not in frame.columns:
            raise InputError(
                f"no column '{col}'",
                file=file,
                column=col,
                expected=f"{flag} naming columns of: {', '.join(map(str, frame.columns))}",
            )


def _with_keys(frame: pd.DataFrame, keys: list[str] | None) -> pd.DataFrame:
    """Split the id back into its hierarchy columns (the id is their values joined by "/")."""
    if keys:
        parts = frame[ID].str.split("/", n=len(keys) - 1, expand=True)
        for i, key in enumerate(keys):
            frame[key] = parts[i]
    return frame


def _pick(raw: pd.DataFrame, names: tuple[str, ...], what: str, file: str, flag: str) -> str:
    lower = {c.lower(): c for c in raw.columns}
    for name in names:
        if name.lower() in lower:
            return lower[name.lower()]
    raise InputError(
        f"cannot tell which column holds the {what}",
        file=file,
        expected=f"{flag} naming one of: {', '.join(raw.columns)}",
    )


def _looks_wide(raw: pd.DataFrame) -> bool:
    from carsight.ingest.wide import month_columns

    return len(month_columns([str(c) for c in raw.columns])) >= 3

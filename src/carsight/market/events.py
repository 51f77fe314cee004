"""Declared events (launches, incentives, tax changes, shocks) and the months of the series they cover.

Reading and checking an events table, and which months of which series each event covers.

An event has a ``name``, a ``start`` and an ``end`` month (inclusive: start = end is a one-month event), a ``kind``
(launch, incentive, tax, shock, other) and optional scope columns that match the series' id parts (``market``,
``model``, ``brand``; ``(all)`` or blank: every value). An aggregate series (a market total, the overall total) is
covered by every event inside it: a Korean incentive moves the Korean total and, less, the overall total; how much is
learnt per series (:mod:`carsight.market.event_effects`).

Occurrences of a recurring event share its name. The effect of a coming event is learnt from the past occurrences of its
name, or, when its name has none, from those of its kind.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.warehouse import schema as S

KINDS = S.EVENT_KINDS
SCOPE = ("market", "model", "brand")
ALL = S.ALL
SHOCK = "shock"
ROW = "row"  # the file row of an event (1 = first data row), for error messages
# What an events frame holds after :func:`check_events`.
COLUMNS = ["name", "start", "end", "kind", *SCOPE, "first", "last", "recurring", ROW]


def month_number(values) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``) of dates: the arithmetic events use."""
    stamps = pd.DatetimeIndex(pd.to_datetime(values))
    return stamps.year.to_numpy() * 12 + stamps.month.to_numpy() - 1


def month_label(number: int) -> str:
    """``YYYY-MM`` of a month number."""
    return f"{int(number) // 12:04d}-{int(number) % 12 + 1:02d}"


def read_events(path: str | Path, *, encoding: str | None = None, sheet: str | None = None) -> pd.DataFrame:
    """Read an events file (CSV, Excel, Parquet) through :mod:`carsight.ingest`.

    Headers such as 이벤트명/시작월/종료월/유형/국가 and month spellings are read as ``carsight
    ingest events`` reads them. A row the loader would reject, or a column that is no scope, is one
    :class:`InputError`.

    Returns
    -------
    DataFrame
        ``name, start, end, kind, market, model, brand`` and the file ``row`` of each event.
    """
    from carsight.ingest import read_table

    name = Path(path).name
    result = read_table(path, S.EVENTS.name, encoding=encoding, sheet=sheet)
    if result.unknown_columns:
        column = result.unknown_columns[0]
        raise InputError(
            f"unknown scope column '{column}'",
            file=name,
            column=column,
            expected="name, start, end, kind and scope columns market, model or brand",
        )
    if len(result.rejected):
        first = result.rejected.iloc[0]
        raise InputError(
            str(first["reason"]), file=name, row=int(first["row_number"]), column=str(first["column_name"])
        )
    frame = result.frame.copy()
    frame[ROW] = result.row_numbers.to_numpy() if result.row_numbers is not None else np.arange(1, len(frame) + 1)
    return frame


def warehouse_events(wh) -> pd.DataFrame | None:
    """The ``events`` table of the warehouse, or None when it is missing or empty."""
    if not wh.has_table(S.EVENTS.name) or wh.count(S.EVENTS.name) == 0:
        return None
    frame = wh.table(S.EVENTS.name).to_pandas()
    frame[ROW] = np.arange(1, len(frame) + 1)
    return frame


def _key(text) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


def _is_all(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() in ("", ALL)


def check_events(events: pd.DataFrame, keys: pd.DataFrame | None = None, *, file: str | None = None) -> pd.DataFrame:
    """Check declared events against the series they are for, and prepare them.

    Parameters
    ----------
    events : DataFrame
        ``name, start, end, kind`` and optional scope columns (``market``, ``model``, ``brand``).
    keys : DataFrame, optional
        One row per series: ``unique_id`` and its id parts (the scope columns it has); an id part is
        missing (None) for an aggregate over it. Without keys every event must apply to all series.
    file : str, optional
        The events file's name, for error messages.

    Returns
    -------
    DataFrame
        :data:`COLUMNS`: month numbers ``first``/``last`` and ``recurring`` (the name occurs more
        than once), one row per event.

    Raises
    ------
    InputError
        An event that ends before it starts, an unknown kind, a scope no series has, or two events
        of the same kind that overlap in months and scope (their effects could not be told apart).
    """
    missing = [c for c in ("name", "start", "end", "kind") if c not in events.columns]
    if missing:
        raise InputError(f"missing event column(s) {', '.join(missing)}", file=file, expected="name, start, end, kind")
    frame = events.copy().reset_index(drop=True)
    if ROW not in frame:
        frame[ROW] = np.arange(1, len(frame) + 1)
    for column in SCOPE:
        frame[column] = [ALL if _is_all(v) else str(v).strip() for v in frame[column]] if column in frame else ALL
    extra = [c for c in frame.columns if c not in (*COLUMNS, "note", "description")]
    if extra:
        raise InputError(
            f"unknown scope column '{extra[0]}'", file=file, column=extra[0], expected="market, model or brand"
        )
    for column in ("start", "end"):
        parsed = pd.to_datetime(frame[column], errors="coerce")
        bad = parsed.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"'{frame[column].iloc[i]}' is not a month",
                file=file,
                row=int(frame[ROW].iloc[i]),
                column=column,
                expected="a month such as 2024-03",
            )
        frame[column] = parsed.dt.to_period("M").dt.to_timestamp()
    frame["kind"] = [str(k).strip().lower() for k in frame["kind"]]
    frame["name"] = [str(n).strip() for n in frame["name"]]
    for _, row in frame.iterrows():
        where = {"file": file, "row": int(row[ROW])}
        if not row["name"]:
            raise InputError("an event without a name", column="name", expected="a name", **where)
        if row["kind"] not in KINDS:
            raise InputError(f"unknown kind '{row['kind']}'", column="kind", expected=", ".join(KINDS), **where)
        if row["end"] < row["start"]:
            raise InputError(
                f"event '{row['name']}' ends ({row['end']:%Y-%m}) before it starts ({row['start']:%Y-%m})",
                column="end",
                expected="end on or after start (start = end for a one-month event)",
                **where,
            )
    _check_scope(frame, keys, file)
    frame["first"] = month_number(frame["start"])
    frame["last"] = month_number(frame["end"])
    _check_overlaps(frame, file)
    names = frame["name"].map(_key)
    frame["recurring"] = names.map(names.value_counts()) > 1
    return frame[COLUMNS].sort_values(["first", "name"], kind="stable").reset_index(drop=True)


def _check_scope(frame: pd.DataFrame, keys: pd.DataFrame | None, file: str | None) -> None:
    for column in SCOPE:
        scoped = frame[frame[column] != ALL]
        if scoped.empty:
            continue
        row = scoped.iloc[0]
        if keys is None or column not in keys.columns:
            parts = [c for c in SCOPE if keys is not None and c in keys.columns]
            raise InputError(
                f"event '{row['name']}' is for a {column}, but the series have no {column} in their id",
                file=file,
                row=int(row[ROW]),
                column=column,
                expected=f"scope columns among the series' id parts ({', '.join(parts) or 'none'}), "
                "e.g. forecast with --hierarchy brand/model/market",
            )
        known = {_key(v) for v in keys[column].dropna()}
        for _, row in scoped.iterrows():
            if _key(row[column]) not in known:
                sample = ", ".join(sorted({str(v) for v in keys[column].dropna()})[:8])
                raise InputError(
                    f"unknown scope: no series has {column} '{row[column]}' (event '{row['name']}')",
                    file=file,
                    row=int(row[ROW]),
                    column=column,
                    expected=f"one of {sample}" + (", …" if keys[column].nunique() > 8 else ""),
                )


def _check_overlaps(frame: pd.DataFrame, file: str | None) -> None:
    """Two events of one kind in the same months and scope cannot have their effects told apart."""
    for _, group in frame.groupby("kind", sort=False):
        rows = group.to_dict("records")
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if a["last"] < b["first"] or b["last"] < a["first"]:
                    continue
                if not all(a[c] == ALL or b[c] == ALL or _key(a[c]) == _key(b[c]) for c in SCOPE):
                    continue
                month = month_label(max(a["first"], b["first"]))
                scope = ", ".join(f"{c} {a[c] if a[c] != ALL else b[c]}" for c in SCOPE if ALL not in (a[c], b[c]))
                raise InputError(
                    f"events '{a['name']}' (row {a[ROW]}) and '{b['name']}' overlap in {month}"
                    + (f" for {scope}" if scope else "")
                    + f": both are of kind {a['kind']}",
                    file=file,
                    row=int(b[ROW]),
                    column="start",
                    expected="one event of a kind per month and scope: merge them, or change their months or scope",
                )


def applies(event: pd.Series | dict, key: dict) -> bool:
    """Whether an event covers a series with id parts ``key``.

    A part that is None is an aggregate over it, which the event moves too.
    """
    for column in SCOPE:
        wanted = event[column]
        if wanted == ALL:
            continue
        have = key.get(column)
        if have is not None and not _is_all(have) and _key(have) != _key(wanted):
            return False
    return True


def coverage(events: pd.DataFrame, keys: dict[str, dict], months: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per series, the rows of ``events`` that cover it and reach into its ``months``.

    ``months``: its month numbers, history and horizon.
    """
    out = {}
    first, last = events["first"].to_numpy(), events["last"].to_numpy()
    records = events.to_dict("records")
    for uid, m in months.items():
        key = keys.get(uid, {})
        lo, hi = int(m[0]), int(m[-1])
        hit = [i for i, e in enumerate(records) if first[i] <= hi and last[i] >= lo and applies(e, key)]
        out[uid] = np.asarray(hit, dtype=int)
    return out


def indicators(events: pd.DataFrame, which: np.ndarray, months: np.ndarray) -> np.ndarray:
    """0/1 matrix (months × events ``which``): whether each event is on in each month."""
    if len(which) == 0:
        return np.zeros((len(months), 0))
    first = events["first"].to_numpy()[which]
    last = events["last"].to_numpy()[which]
    m = np.asarray(months)[:, None]
    return ((m >= first[None, :]) & (m <= last[None, :])).astype(float)


def prophet_holidays(events: pd.DataFrame, key: dict) -> pd.DataFrame | None:
    """The events covering a series as Prophet ``holidays``, so Prophet gets the same information.

    One row per event month; a recurring event is one holiday, a one-off one is its kind.
    """
    rows = []
    for e in events.to_dict("records"):
        if not applies(e, key):
            continue
        label = e["name"] if e["recurring"] else e["kind"]
        for m in range(int(e["first"]), int(e["last"]) + 1):
            rows.append({"holiday": label, "ds": pd.Timestamp(year=m // 12, month=m % 12 + 1, day=1)})
    return pd.DataFrame(rows) if rows else None

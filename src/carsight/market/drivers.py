"""What drove a change in a total between two periods.

The few segments (one value of up to ``max_depth`` dimensions, the others "all") whose own change
explains most of the change, with an optional price-volume-mix split when a size column (units,
buyers) is given.

How segments are chosen: every cell (one value of every dimension) has a change ``d``. A segment
"explains" its cells' changes when one change of its own, spread over its cells in proportion to
their size, reproduces them; its gain is the absolute change of its cells minus what is left after
that (an L1 fit, in the units of the value). Segments are taken greedily by gain, never overlapping
one already taken, so their changes add up and, with the rest, make the whole change: a waterfall.
A drop concentrated in Tucson × USA is reported as that, not as "USA" (whose other cells would be
left with errors); a drop spread evenly over a market is reported as the market. Domain only: frames
in, frames out; see docs/insights.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.errors import InputError

SEGMENT_COLUMNS = ("base", "current", "change", "share_of_change")
SPLIT_COLUMNS = ("volume", "mix", "rate")
MISSING = "(missing)"
# Internal names of the value and size columns (never a user's dimension name).
_VALUE, _SIZE = "__value__", "__size__"


@dataclass
class ChangeDrivers:
    """The segments that explain a change, biggest contribution first.

    ``segments``: one column per dimension (the value, or None for "all"), then ``base``, ``current``,
    ``change``, ``share_of_change`` (change ÷ the whole change; may be negative or above 1) and, with a
    size, ``volume`` + ``mix`` + ``rate`` = ``change``. ``explained``: the segments' changes together
    ÷ the whole change; the rest is ``other_change``.
    """

    segments: pd.DataFrame
    dims: list[str]
    base_total: float
    current_total: float
    # (catalogue key, values): rendered in the user's language by :meth:`messages`.
    notes: list[tuple[str, dict]] = field(default_factory=list)

    def messages(self, lang: str = "en") -> list[str]:
        """The notes (thin data, fallbacks) as sentences in ``lang``."""
        from carsight.i18n import t

        return [t(f"insights.note.{key}", lang, **values) for key, values in self.notes]

    @property
    def change(self) -> float:
        """Current total minus base total."""
        return self.current_total - self.base_total

    @property
    def other_change(self) -> float:
        """The part of the change the segments shown do not explain."""
        return self.change - float(self.segments["change"].sum())

    @property
    def explained(self) -> float:
        """The share of the change the segments shown explain."""
        return float(self.segments["change"].sum()) / self.change if self.change else float("nan")

    def labels(self) -> list[str]:
        """Each segment as ``dim=value & dim=value``."""
        return [segment_label(row, self.dims) for row in self.segments.to_dict(orient="records")]


def segment_label(row: dict, dims: list[str]) -> str:
    """A segment as ``dim=value & dim=value``, leaving out the dimensions it does not fix."""
    parts = [f"{d}={row[d]}" for d in dims if row.get(d) is not None and not pd.isna(row.get(d))]
    return " & ".join(parts)


def _cells(base: pd.DataFrame, current: pd.DataFrame, dims: list[str], value: str, size: str | None) -> pd.DataFrame:
    cols = [value] + ([size] if size else [])
    b = base.groupby(dims, dropna=False, observed=True)[cols].sum()
    c = current.groupby(dims, dropna=False, observed=True)[cols].sum()
    both = b.join(c, how="outer", lsuffix="_b", rsuffix="_c").fillna(0.0).reset_index()
    out = pd.DataFrame({d: both[d].astype(str) for d in dims})
    out["b"], out["y"] = both[f"{value}_b"].astype(float), both[f"{value}_c"].astype(float)
    if size:
        out["nb"], out["ny"] = both[f"{size}_b"].astype(float), both[f"{size}_c"].astype(float)
    return out


def _split(cells: pd.DataFrame) -> tuple[float, float, float]:
    """Volume, mix and rate of a segment from its cells (size ``nb``/``ny``, value ``b``/``y``).

    Volume = size change at the segment's base value per unit; mix = the new composition of cells at
    their base value per unit; rate = value per unit changed within cells. They add up to the
    change.
    """
    nb, ny, b, y = (cells[k].to_numpy() for k in ("nb", "ny", "b", "y"))
    n_base, n_cur, base, cur = nb.sum(), ny.sum(), b.sum(), y.sum()
    avg = base / n_base if n_base else (cur / n_cur if n_cur else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(nb > 0, b / nb, np.where(ny > 0, y / ny, 0.0))
    volume = n_cur * avg - base
    mix = float(np.sum(ny * unit)) - n_cur * avg
    rate = cur - float(np.sum(ny * unit))
    return float(volume), float(mix), float(rate)


def explain_change(
    base: pd.DataFrame,
    current: pd.DataFrame,
    dims: list[str],
    value: str,
    *,
    size: str | None = None,
    max_segments: int = 10,
    max_depth: int = 3,
    min_gain: float = 0.01,
) -> ChangeDrivers:
    """The segments that explain the change of ``value`` from ``base`` to ``current``.

    Parameters
    ----------
    base, current : DataFrame
        Rows of the two periods with the ``dims`` columns and ``value`` (and ``size``).
    dims : list of str
        Dimensions a segment may fix (model, market, channel, …).
    size : str, optional
        A size column (units, buyers): adds the volume / mix / rate split.
    max_segments : int
        At most this many segments.
    max_depth : int
        At most this many dimensions fixed in one segment.
    min_gain : float
        Stop when the next segment's gain is below this share of the cells' total absolute change.

    Returns
    -------
    ChangeDrivers
    """
    dims = list(dims)
    if not dims:
        raise InputError("no dimensions given", column="dims", expected="one or more columns")
    if int(max_segments) < 1 or int(max_depth) < 1:
        raise InputError("max_segments and max_depth must be at least 1", column="max_segments")
    cells = _cells(base, current, dims, value, size)
    notes: list[tuple[str, dict]] = []
    base_total, current_total = float(cells.b.sum()), float(cells.y.sum())
    d = (cells.y - cells.b).to_numpy()
    mass = (cells.b.abs() + cells.y.abs()).to_numpy() / 2.0
    scale = float(np.abs(d).sum())
    codes = [pd.factorize(cells[dim], sort=True)[0].astype(np.int64) for dim in dims]
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in codes]
    depth = min(int(max_depth), len(dims))
    combos = [c for k in range(1, depth + 1) for c in itertools.combinations(range(len(dims)), k)]
    group_of, gains, combo_ids, depths = [], [], [], []
    for ci, combo in enumerate(combos):
        key = np.ravel_multi_index([codes[i] for i in combo], [sizes[i] for i in combo]) if len(d) else d
        _, gid = np.unique(key, return_inverse=True)
        gid = gid.ravel().astype(np.int64)
        k = int(gid.max()) + 1 if len(gid) else 0
        change = np.bincount(gid, d, k)
        spread = np.bincount(gid, mass, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            predicted = np.where(spread[gid] > 0, change[gid] * mass / spread[gid], 0.0)
        gain = np.bincount(gid, np.abs(d), k) - np.bincount(gid, np.abs(d - predicted), k)
        group_of.append(gid)
        gains.append(gain)
        combo_ids.append(np.full(k, ci))
        depths.append(np.full(k, len(combo)))
    if scale == 0:
        notes.append(("no_change", {}))
    all_gain = np.concatenate(gains) if gains else np.zeros(0)
    combo_of = np.concatenate(combo_ids) if combo_ids else np.zeros(0, dtype=int)
    group_index = np.concatenate([np.arange(len(g)) for g in gains]) if gains else np.zeros(0, dtype=int)
    # Best gain first; among gains equal up to rounding, the segment with fewer dimensions.
    rounded = np.round(all_gain / scale, 9) if scale else all_gain
    order = np.lexsort((group_index, combo_of, np.concatenate(depths) if depths else combo_of, -rounded))
    taken = np.zeros(len(cells), dtype=bool)
    blocked = [np.zeros(len(g), dtype=bool) for g in gains]
    chosen: list[tuple[int, int]] = []
    for pos in order:
        gain, ci, gi = float(all_gain[pos]), int(combo_of[pos]), int(group_index[pos])
        if len(chosen) >= int(max_segments) or gain <= 0 or gain < min_gain * scale:
            break
        if blocked[ci][gi]:
            continue
        chosen.append((ci, gi))
        taken |= group_of[ci] == gi
        for cj, gid in enumerate(group_of):
            blocked[cj] = np.bincount(gid, taken, len(blocked[cj])) > 0
    rows = []
    for ci, gi in chosen:
        member = group_of[ci] == gi
        part = cells[member]
        row = {dim: (part[dim].iloc[0] if i in combos[ci] else None) for i, dim in enumerate(dims)}
        row["base"], row["current"] = float(part.b.sum()), float(part.y.sum())
        row["change"] = row["current"] - row["base"]
        if size:
            row["volume"], row["mix"], row["rate"] = _split(part)
        rows.append(row)
    total_change = current_total - base_total
    columns = [*dims, *SEGMENT_COLUMNS, *(SPLIT_COLUMNS if size else ())]
    frame = pd.DataFrame(rows, columns=[c for c in columns if c != "share_of_change"])
    frame["share_of_change"] = frame["change"] / total_change if total_change else np.nan
    if not total_change and scale:
        notes.append(("total_flat", {}))
    frame = frame.reindex(frame["change"].abs().sort_values(ascending=False, kind="stable").index)
    frame = frame[columns].reset_index(drop=True)
    for dim in dims:
        frame[dim] = frame[dim].astype(object).where(frame[dim].notna(), None)
    return ChangeDrivers(frame, dims, base_total, current_total, notes)


# ---------------------------------------------------------------------------------------------
# Periods and long files
# ---------------------------------------------------------------------------------------------
def month_range(text: str, option: str = "--base") -> tuple[pd.Timestamp, pd.Timestamp]:
    """``2024-01:2024-06`` (inclusive months.

    ``2024-05`` alone is one month) → first day of the first month and first day of the last.
    """
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) not in (1, 2) or not all(parts):
        raise InputError(
            f"{option} '{text}' is not a month range", column=option, expected="FROM:TO, e.g. 2024-01:2024-06"
        )
    months = []
    for part in parts:
        try:
            months.append(pd.Timestamp(pd.Period(part, freq="M").start_time))
        except (ValueError, TypeError):
            raise InputError(
                f"{option} '{part}' is not a month", column=option, expected="YYYY-MM, e.g. 2024-01:2024-06"
            ) from None
    first, last = months[0], months[-1]
    if first > last:
        raise InputError(f"{option} '{text}' ends before it starts", column=option, expected="FROM ≤ TO")
    return first, last


def _label(first: pd.Timestamp, last: pd.Timestamp) -> str:
    return f"{first:%Y-%m}:{last:%Y-%m}"


def drivers_from_long(
    frame: pd.DataFrame,
    *,
    value_col: str,
    date_col: str,
    dims: list[str],
    base: str | tuple,
    current: str | tuple,
    size_col: str | None = None,
    file: str | None = None,
    **params,
) -> ChangeDrivers:
    """:func:`explain_change` on a long table.

    One row per date and dimension values, comparing the inclusive month ranges ``base`` and
    ``current``. What ``carsight drivers`` runs.
    """
    from carsight.ingest import clean_number, parse_dates

    if frame.empty:
        raise InputError("the table has no data rows", file=file)
    dims = [d.strip() for d in dims if str(d).strip()]
    if len(set(dims)) != len(dims):
        raise InputError("a dimension is named twice", file=file, column="--dims")
    for name in [value_col, date_col, *dims] + ([size_col] if size_col else []):
        if name not in frame.columns:
            raise InputError(
                "no such column", file=file, column=name, expected="one of: " + ", ".join(map(str, frame.columns))
            )
    for name in dims:
        if name in (value_col, date_col, size_col):
            raise InputError("a dimension cannot also be the value, date or size column", file=file, column=name)
    b0, b1 = base if isinstance(base, tuple) else month_range(base, "--base")
    c0, c1 = current if isinstance(current, tuple) else month_range(current, "--current")
    if b0 <= c1 and c0 <= b1:
        raise InputError(
            f"--base {_label(b0, b1)} and --current {_label(c0, c1)} overlap", file=file, expected="separate periods"
        )
    dates = pd.to_datetime(parse_dates(frame[date_col]), errors="coerce")
    _refuse(frame[date_col].notna() & dates.isna(), frame[date_col], file, date_col, "a date such as 2024-03")
    data = pd.DataFrame({d: frame[d].astype("string").fillna(MISSING).astype(str) for d in dims})
    for name, role in ((value_col, _VALUE), (size_col, _SIZE)):
        if not name:
            continue
        raw = frame[name]
        numbers = raw.astype("float64") if pd.api.types.is_numeric_dtype(raw) else clean_number(raw, dash_is_zero=True)
        _refuse(numbers.isna() & raw.notna(), raw, file, name, "a number")
        data[role] = numbers.fillna(0.0).to_numpy()
    month = dates.dt.to_period("M").dt.to_timestamp()
    first, last = month.min(), month.max()
    in_base = (month >= b0) & (month <= b1)
    in_current = (month >= c0) & (month <= c1)
    for flag, (f0, f1), option in ((in_base, (b0, b1), "--base"), (in_current, (c0, c1), "--current")):
        if not flag.any():
            raise InputError(
                f"no rows in {option} {_label(f0, f1)}",
                file=file,
                column=option,
                expected=f"months within the data, {first:%Y-%m} … {last:%Y-%m}",
            )
    scoped = data[(in_base | in_current).to_numpy()]
    for dim in dims:
        values = scoped[dim].unique()
        if len(values) < 2:
            raise InputError(
                f"dimension '{dim}' has only one value ({values[0]}) in the two periods: it cannot explain a change",
                file=file,
                column=dim,
                expected="a column with two or more values",
            )
    return explain_change(
        data[in_base.to_numpy()],
        data[in_current.to_numpy()],
        dims,
        _VALUE,
        size=_SIZE if size_col else None,
        **params,
    )


def _refuse(bad: pd.Series, raw: pd.Series, file: str | None, column: str, expected: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"'{raw.iloc[i]}' is not {expected.split(' such')[0]} ({int(bad.sum())} such rows)",
            file=file,
            row=i + 1,
            column=column,
            expected=expected,
        )

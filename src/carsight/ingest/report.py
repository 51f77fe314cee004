"""One sheet of sales figures read into long rows.

What each label column of the layout (:mod:`carsight.ingest.layout`) is, decided by its values
(:mod:`carsight.ingest.vocab`), the dimensions a table lacks filled with documented defaults, one
row per figure, every assumption noted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest import vocab as V
from carsight.ingest.grid import Grid
from carsight.ingest.headers import normalise_header
from carsight.ingest.layout import (
    DIMENSIONS,
    Columns,
    Numbers,
    analyse_rows,
    classify_columns,
    figures_of,
    has_total_word,
    month_cells,
    read_header,
)
from carsight.ingest.wide import year_from_name

ALL = "(all)"  # a dimension the file does not split by


def _lang() -> str:
    from carsight.config import get_settings

    return get_settings().lang


def _note(key: str, **values) -> str:
    return t(f"ingest.assume.{key}", _lang(), **values)


@dataclass(eq=False)
class Report:
    """One sheet read as figures.

    ``frame`` has the raw text of every dimension, ``month``, ``units``, ``__row__`` (1 = first row
    under the header) and ``__header__`` (the file header the figure sat under), ``__extra__``
    (labels of columns that are not a dimension).
    """

    frame: pd.DataFrame
    sheet: str | None
    notes: list[str] = field(default_factory=list)
    subtotals: int = 0
    rows_read: int = 0
    unknown: list[str] = field(default_factory=list)
    extra_headers: list[str] = field(default_factory=list)
    wide: str = "none"
    source: pd.DataFrame | None = None  # the sheet's rows as the file has them, indexed by row number


class NotASalesTable(InputError):
    """The sheet holds no monthly figures this table can take (the reason says why)."""


# ---- what each label column is ----------------------------------------------------------------------------
_DIMS_BY_VALUE = (V.KIND, V.MARKET, V.PLANT, V.VEHICLE_CLASS, V.BRAND, V.POWERTRAIN)


def _assign(virtual: dict[tuple, list[str]], forced: dict[tuple, tuple[str, bool]]) -> tuple[dict, list[tuple]]:
    """Dimension of each virtual label column (("d"|"s"|"g", column)).

    ``--map`` first, then the header's synonym unless the values clearly say otherwise, then the
    values; the model is the detail column with the most distinct values left. Returns (assignment,
    columns left over).
    """
    assigned: dict[tuple, str] = {}
    taken: set[str] = set()
    shares = {vc: V.shares(values) for vc, values in virtual.items()}
    for vc, (dim, by_user) in forced.items():
        best = max(shares[vc].items(), key=lambda kv: kv[1]) if shares[vc] else (None, 0.0)
        if by_user or best[1] < 0.8 or best[0] == dim:
            assigned[vc] = dim
            taken.add(dim)
    candidates = sorted(
        (
            (share, len(set(virtual[vc])), vc, dim)
            for vc in virtual
            if vc not in assigned
            for dim, share in shares[vc].items()
        ),
        key=lambda c: (-c[0], -c[1]),
    )
    for share, _, vc, dim in candidates:
        if share < 0.6 or vc in assigned or dim in taken:
            continue
        assigned[vc] = dim
        taken.add(dim)
    if "model" not in taken:
        # A column that reads as another dimension already taken (continents beside countries) is
        # a coarser grouping of it, never the model.
        details = [
            vc
            for vc in virtual
            if vc[0] == "d" and vc not in assigned and virtual[vc] and max(shares[vc].values(), default=0) < 0.6
        ]
        if details:
            model = max(details, key=lambda vc: (len(set(virtual[vc])), -vc[1]))
            assigned[model] = "model"
    left = [vc for vc in virtual if vc not in assigned and virtual[vc]]
    return assigned, left


# ---- the sheet --------------------------------------------------------------------------------------------
def read_report(
    grid: Grid,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    year: int | None = None,
    wide: str = "auto",
    home_market: str = "Korea",
) -> Report:
    """Read one sheet of sales figures into long rows (see the module docstring).

    Raises :class:`NotASalesTable` (an :class:`InputError`) when the sheet holds no monthly figures:
    yearly columns, no month anywhere, no numbers.
    """
    mapping = dict(mapping or {})
    constants = dict(constants or {})
    if not grid.rows or not any(any(r) for r in grid.rows):
        raise NotASalesTable(t("ingest.refuse.empty", _lang()), file=grid.file)
    frame = grid.frame()
    numbers = Numbers(frame)
    h, headers, first = read_header(grid, numbers)
    title = [" ".join(c for c in row if c) for row in grid.rows[:h]]
    texts = [("title", line) for line in title] + [("sheet", grid.sheet or ""), ("file", _stem(grid.file))]
    hints = V.hints_from(texts)
    body = frame.iloc[first:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    cols = classify_columns(body, headers, mapping, wide, numbers)
    if cols.value_kind == "none":
        raise NotASalesTable(_why_no_figures(headers, cols), file=grid.file, column=None)
    # --map targets and header synonyms for label columns
    forced_cols = {j: cols.forced[j] for j in cols.forced}
    user = {normalise_header(k) for k in mapping}
    figures = figures_of(body, cols, numbers)
    rows = analyse_rows(body, cols, figures)
    if not np.any(figures[rows.kind == "data"] != 0):
        raise NotASalesTable(t("ingest.refuse.no_figures_yet", _lang()), file=grid.file)
    data = np.flatnonzero(((rows.kind == "data") & ~rows.subtotal & ~rows.share_rows) | rows.stand_in)
    if not len(data):
        raise NotASalesTable(t("ingest.refuse.no_rows", _lang()), file=grid.file)
    notes: list[str] = []
    virtual: dict[tuple, list[str]] = {}
    for j in cols.label:
        values = [v for v in rows.labels.loc[data, j].tolist() if v and not has_total_word(v)]
        virtual[("d", j)] = values
        sections = [rows.section[i].get(j) for i in data if rows.section.get(i, {}).get(j)]
        if sections:
            virtual[("s", j)] = sections
        groups = [rows.group[i].get(j) for i in data if rows.group.get(i, {}).get(j)]
        if groups:
            virtual[("g", j)] = groups
    forced = {("d", j): (dim, normalise_header(headers[j]) in user) for j, dim in forced_cols.items()}
    assigned, left = _assign(virtual, forced)
    by_dim = {dim: vc for vc, dim in assigned.items()}
    out = pd.DataFrame(index=pd.RangeIndex(len(data)))
    out["__row__"] = data + (first - h)

    def cells(vc: tuple) -> list[str | None]:
        part, j = vc
        if part == "d":
            return [v if v and not has_total_word(v) else None for v in rows.labels.loc[data, j].tolist()]
        source = rows.section if part == "s" else rows.group
        return [source.get(i, {}).get(j) for i in data]

    for dim in ("model", "plant", "vehicle_class", "brand"):
        vc = by_dim.get(dim)
        if vc is None:
            continue
        raw = cells(vc)
        canon = {"vehicle_class": V.vehicle_class_of, "brand": V.brand_of}.get(dim)
        out[dim] = [None if v is None else (canon(v) if canon and canon(v) else V.tidy(v)) for v in raw]
    kind_labels = [V.kind_of(v) if v else None for v in cells(by_dim[V.KIND])] if V.KIND in by_dim else None
    market_cells = (
        [V.market_of(v) or V.tidy(v) if v else None for v in cells(by_dim["market"])] if "market" in by_dim else None
    )
    # brand
    if "brand" not in out:
        if "brand" not in constants:
            raise InputError(
                "missing required column brand for table sales_monthly; no column of brand names was found",
                file=grid.file,
                column="brand",
                expected="a brand column, --map 'YOUR HEADER=brand' or --set brand=VALUE",
            )
        out["brand"] = constants["brand"]
    elif "brand" in constants:
        out["brand"] = out["brand"].where(out["brand"].notna(), constants["brand"])
    # plant, model, vehicle class
    plant_table = "plant" in out and out["plant"].notna().any()
    for dim in ("model", "plant", "vehicle_class"):
        if dim in constants:
            out[dim] = out[dim].where(out[dim].notna(), constants[dim]) if dim in out else constants[dim]
        elif dim not in out:
            out[dim] = ALL
            if dim == "model":
                notes.append(_note("no_model", all=ALL))
        else:
            out[dim] = out[dim].fillna(ALL)
    # kind
    if "kind" in constants:
        kind = pd.Series(constants["kind"], index=out.index, dtype="object")
        plant_kind = V.kind_of(constants["kind"]) == "overseas_plant" or str(constants["kind"]) == "overseas_plant"
    elif kind_labels is not None and hints.kind != "overseas_plant" and not plant_table:
        raw_kinds = cells(by_dim[V.KIND])
        kind = pd.Series([k or v for k, v in zip(kind_labels, raw_kinds, strict=True)], index=out.index, dtype="object")
        kind = kind.fillna(hints.kind or "domestic")
        plant_kind = False
        if by_dim[V.KIND] not in forced:
            notes.append(_note("kind_from_labels", header=_where(headers, by_dim[V.KIND])))
    elif hints.kind:
        kind = pd.Series(hints.kind, index=out.index, dtype="object")
        plant_kind = hints.kind == "overseas_plant"
        notes.append(_note("kind_from_file", kind=hints.kind, where=_where_hint(hints, "kind")))
    elif plant_table:
        kind = pd.Series("overseas_plant", index=out.index, dtype="object")
        plant_kind = True
        notes.append(_note("kind_from_plants"))
    else:
        kind = pd.Series("retail", index=out.index, dtype="object")
        plant_kind = False
        notes.append(_note("kind_default"))
    out["kind"] = kind
    # market
    market = pd.Series(None, index=out.index, dtype="object")
    if market_cells is not None:
        market[:] = market_cells
    elif kind_labels is not None:
        labels = pd.Series(kind_labels, index=out.index, dtype="object")
        if plant_kind:
            countries = out["plant"].map(lambda p: V.plant_country(p) or p if p != ALL else None)
            market = market.where(labels != "domestic", countries)
            notes.append(_note("market_plant_country"))
        else:
            market = market.where(labels != "domestic", home_market)
            notes.append(_note("market_home", market=home_market))
    if market.isna().all() and "market" in constants:
        market[:] = constants["market"]
    elif market.isna().all() and hints.market and cols.value_kind != "markets":
        market[:] = hints.market
        notes.append(_note("market_from_file", market=hints.market, where=_where_hint(hints, "market")))
    elif "market" in constants:
        market = market.fillna(constants["market"])
    if cols.value_kind != "markets":
        if market.isna().any():
            notes.append(_note("market_all", all=ALL, rows=int(market.isna().sum())))
        market = market.fillna(ALL)
    out["market"] = market
    # Label columns that split rows but are no column of the table (fuel type, a plant code beside
    # the plant): kept to say why rows share a key.
    extra = [vc for vc in left if vc[0] == "d"] + [
        vc for vc, dim in assigned.items() if vc[0] == "d" and dim not in DIMENSIONS
    ]
    out["__extra__"] = (
        [" · ".join(v for v in parts if v) for parts in zip(*(cells(vc) for vc in extra), strict=True)] if extra else ""
    )
    year_of_rows = _years(body, cols, data, year, hints, grid.file)
    long = _melt(out, body, cols, data, headers, year_of_rows, hints, notes)
    ignored = [headers[j] for j in cols.ignored]
    if cols.totals:
        notes.append(t("ingest.total_columns", _lang(), columns=", ".join(headers[j] for j in cols.totals)))
    report = Report(
        frame=long,
        sheet=grid.sheet,
        notes=notes,
        subtotals=int(rows.subtotal.sum() + rows.share_rows.sum()),
        rows_read=int((rows.kind == "data").sum()),
        unknown=[h for h in ignored if not h.startswith("column_")],
        extra_headers=[headers[vc[1]] for vc in extra if not headers[vc[1]].startswith("column_")],
        wide=cols.value_kind if cols.value_kind in ("months", "markets") else "none",
        source=_source_rows(body, headers, first - h),
    )
    if rows.stand_in.any():
        notes.append(_note("stand_in", rows=int(rows.stand_in.sum()), all=ALL))
    if rows.share_rows.any():
        notes.append(_note("share_rows", rows=int(rows.share_rows.sum())))
    for vc, dim in sorted(assigned.items(), key=lambda kv: kv[0][1]):
        if forced.get(vc, (None, True))[1] is False and forced[vc][0] == dim:
            continue
        if vc in forced and forced[vc][1]:
            continue
        notes.append(_note("recognised", header=_where(headers, vc), column=dim))
    return report


def _source_rows(body: pd.DataFrame, headers: list[str], offset: int) -> pd.DataFrame:
    source = body.copy()
    source.columns = headers[: body.shape[1]]
    source = source.loc[:, [not h.startswith("column_") or source[h].notna().any() for h in source.columns]]
    source.index = np.arange(len(body)) + offset
    return source


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _where(headers: list[str], vc: tuple) -> str:
    part, j = vc
    name = headers[j] if not headers[j].startswith("column_") else f"#{j + 1}"
    return {"d": name, "s": f"{name} (sections)", "g": f"{name} (block footers)"}[part]


def _where_hint(hints: V.Hints, name: str) -> str:
    return t(f"ingest.assume.where.{hints.sources.get(name, 'file')}", _lang())


def _why_no_figures(headers: list[str], cols: Columns) -> str:
    heads = [h for h in headers if not h.startswith("column_")]
    years = [h for h in heads if re.match(r"^(?:19|20)\d{2}(?!\d)", h)]
    if len(years) >= 2 and not cols.months:
        return t("ingest.refuse.yearly", _lang(), headers=", ".join(years[:4]))
    return t("ingest.refuse.no_figures", _lang(), headers=", ".join(heads[:8]))


def _years(body, cols: Columns, data: np.ndarray, year: int | None, hints: V.Hints, file: str) -> pd.Series:
    """The year of each figure row whose months carry none: a year column, ``--year``, the title or sheet, the file name."""
    fixed = year or hints.year or year_from_name(file)
    if cols.year_col is not None:
        values = pd.to_numeric(
            body.loc[data, cols.year_col].astype("string").str.extract(r"(\d{4})")[0], errors="coerce"
        )
        return values.fillna(fixed if fixed else np.nan).reset_index(drop=True)
    return pd.Series(float(fixed) if fixed else np.nan, index=range(len(data)))


def _month_of_rows(raw: pd.Series, years: pd.Series) -> pd.Series:
    """Month cells as ISO months.

    A full month (``2024-03``, ``24.03``), a month name, or a month number (``3``, ``3월``) with the
    row's year. Cells that name no month are left as written (rejected later).
    """
    number = pd.to_numeric(raw.astype("string").str.extract(r"^\s*(\d{1,2})\s*월?\s*$")[0], errors="coerce")
    out = pd.Series(None, index=raw.index, dtype="object")
    for year in years.dropna().unique():
        rows = years == year
        out[rows] = month_cells(raw[rows], int(year))
    out[years.isna()] = month_cells(raw[years.isna()], None)
    numbered = number.between(1, 12) & years.notna()
    out[numbered] = [f"{int(y):04d}-{int(m):02d}-01" for y, m in zip(years[numbered], number[numbered], strict=True)]
    return out.where(out.notna(), raw)


def _melt(out, body, cols: Columns, data, headers, years: pd.Series, hints: V.Hints, notes: list[str]) -> pd.DataFrame:
    pieces = []
    empty_columns = [headers[j] for j in cols.value if body[j].isna().all()]
    if empty_columns and cols.value_kind == "months":
        notes.append(_note("months_not_reported", headers=", ".join(empty_columns)))
    for j in cols.value:
        if body[j].isna().all():
            continue  # a month (or market) the file leaves empty has not been reported yet
        part = out.copy()
        part["units"] = body.loc[data, j].to_numpy()
        part["__header__"] = headers[j]
        if cols.value_kind == "months":
            y, m = cols.months[j]
            row_years = years if y is None else pd.Series(float(y), index=years.index)
            part["month"] = [f"{int(v):04d}-{m:02d}-01" if v == v else f"?-{m:02d}" for v in row_years]
        elif cols.value_kind == "markets":
            part["market"] = V.market_of(headers[j]) or V.tidy(headers[j])
        pieces.append(part)
    if not pieces:
        raise NotASalesTable(t("ingest.refuse.no_rows", _lang()))
    long = pd.concat(pieces, ignore_index=True)
    if cols.value_kind != "months":
        if cols.month_col is not None:
            raw = body.loc[data, cols.month_col].reset_index(drop=True)
            month = _month_of_rows(raw, years)
            long["month"] = np.tile(month.to_numpy(dtype="object"), len(pieces))
        elif hints.month and hints.year:
            long["month"] = f"{hints.year:04d}-{hints.month:02d}-01"
            notes.append(
                _note("month_from_file", month=f"{hints.year:04d}-{hints.month:02d}", where=_where_hint(hints, "month"))
            )
        else:
            raise NotASalesTable(t("ingest.refuse.no_month", _lang()))
    unresolved = long["month"].astype(str).str.startswith("?-")
    if unresolved.any():
        raise InputError(
            "month columns have no year",
            column=str(long.loc[unresolved, "__header__"].iloc[0]),
            expected="a year column (연도/year), --year YYYY, or a year in the file name or title",
        )
    long = long.sort_values("__row__", kind="stable").reset_index(drop=True)
    return long

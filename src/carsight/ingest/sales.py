"""Reading a file of sales figures into ``sales_monthly``.

Every sheet that holds monthly figures (read by its layout, :mod:`carsight.ingest.layout`), values
cleaned and validated, rows that share a key summed so the loaded total equals the file's own, every
assumption noted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest.convert import collect, convert
from carsight.ingest.grid import read_grid, read_grids
from carsight.ingest.read import open_source
from carsight.ingest.report import NotASalesTable, Report, read_report
from carsight.ingest.table import ReadResult, check_options, empty_rejected
from carsight.ingest.wide import is_total_header
from carsight.warehouse import schema as S

TABLE = S.SALES_MONTHLY


def _settings():
    from carsight.config import get_settings

    return get_settings()


def read_sales(
    path: str | os.PathLike,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    year: int | None = None,
    wide: str = "auto",
    required: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReadResult:
    """Read ``path`` into ``sales_monthly`` (see :func:`carsight.ingest.read_table`).

    A workbook is read sheet by sheet unless ``sheet`` names one: sheets without monthly figures
    are listed with the reason, and a sheet named like a total (``Total``, ``합계``) is skipped when
    other sheets load, so nothing is counted twice. Raises :class:`InputError` when no sheet holds
    monthly figures, with each sheet's reason.
    """
    settings = _settings()
    lang = settings.lang
    src = open_source(path, encoding=encoding, sheet=sheet)
    mapping = check_options(src.name, src.headers, TABLE, mapping or {}, constants or {}, required)
    constants = dict(constants or {})
    grids = [read_grid(src, sheet)] if sheet is not None else read_grids(src)
    names = [g.sheet for g in grids]
    reports: list[Report] = []
    refused: dict[str, str] = {}
    for i, grid in enumerate(grids):
        name = grid.sheet
        try:
            reports.append(
                read_report(
                    grid,
                    mapping=mapping,
                    constants=constants,
                    year=year,
                    wide=wide,
                    home_market=settings.home_market,
                )  # fmt: skip
            )
        except NotASalesTable as exc:
            refused[name or src.name] = exc.message
        if progress is not None:
            progress(int(src.size * (i + 1) / len(names)), src.size)
    notes: list[str] = []
    totals = [r for r in reports if r.sheet and is_total_header(r.sheet)]
    if totals and len(reports) > len(totals):
        for r in totals:
            notes.append(t("ingest.assume.sheet_total", lang, sheet=r.sheet))
        reports = [r for r in reports if r not in totals]
    if not reports:
        if len(refused) == 1:
            raise InputError(next(iter(refused.values())), file=src.name)
        reasons = "; ".join(f"{k}: {v}" for k, v in refused.items())
        raise InputError(t("ingest.refuse.no_sheet", lang, reasons=reasons), file=src.name)
    several = len(reports) > 1
    goods, rejected_parts, extras, extra_headers = [], [], [], []
    for r in reports:
        notes += [f"{r.sheet}: {n}" if several else n for n in r.notes]
        typed, problems = convert(r.frame, TABLE, list(required or []), lang)
        header = (r.sheet + "!" + r.frame["__header__"].astype(str)) if several else r.frame["__header__"]
        fixed = [(m, header if col == "units" else col, raw, why) for m, col, raw, why in problems]
        bad = pd.Series(False, index=typed.index)
        for mask, *_ in fixed:
            bad |= mask.reindex(typed.index, fill_value=False)
        for part in collect(fixed, None, rows=r.frame["__row__"]):
            part["raw"] = [_raw_row(r.source, n) for n in part["row_number"]]
            rejected_parts.append(part)
        goods.append(typed[~bad])
        extras.append(r.frame.loc[~bad, "__extra__"])
        extra_headers += r.extra_headers
    if len(names) > 1:
        status = [f"{r.sheet} ✓" for r in reports] + [f"{k} ✗ ({v})" for k, v in refused.items()]
        notes.insert(0, t("ingest.assume.sheets", lang, sheets="; ".join(status)))
    good = pd.concat(goods, ignore_index=True)
    extra = pd.concat(extras, ignore_index=True)
    good, summed_note = _sum_shared_keys(good, extra, list(dict.fromkeys(extra_headers)), lang)
    if summed_note:
        notes.append(summed_note)
    rejected = (
        pd.concat(rejected_parts, ignore_index=True).sort_values("row_number", kind="stable").reset_index(drop=True)
        if rejected_parts
        else empty_rejected()
    )
    rows = good.pop("__row__").reset_index(drop=True)
    good = good.reset_index(drop=True)
    unknown = list(dict.fromkeys(h for r in reports for h in r.unknown + r.extra_headers))
    return ReadResult(
        frame=good[TABLE.column_names],
        rejected=rejected,
        subtotals=sum(r.subtotals for r in reports),
        unknown_columns=unknown,
        file=src.name,
        table=TABLE.name,
        rows_read=sum(r.rows_read for r in reports),
        rejected_rows=int(rejected["row_number"].nunique()) if len(rejected) else 0,
        columns_found=list(TABLE.column_names),
        row_numbers=rows,
        wide=next((r.wide for r in reports if r.wide != "none"), "none"),
        encoding=src.encoding,
        notes=notes,
    )


def _raw_row(source: pd.DataFrame | None, row: int) -> str | None:
    """The rejected row as the file has it, as JSON (header → cell)."""
    if source is None or row not in source.index:
        return None
    cells = source.loc[row]
    return json.dumps({str(k): v for k, v in cells.items() if v is not None and v == v}, ensure_ascii=False)


def _sum_shared_keys(
    frame: pd.DataFrame, extra: pd.Series, extra_headers: list[str], lang: str
) -> tuple[pd.DataFrame, str | None]:
    """Sum the rows of one file that share the table's key.

    E.g. the same model from two plants that the table does not split by, or fuel types of one
    model: the loaded total stays the file's.
    """
    keys = list(TABLE.keys)
    shared = frame.duplicated(keys, keep=False)
    if not shared.any():
        return frame, None
    n = int(shared.sum())
    examples = sorted({e for e in extra[shared.to_numpy()].tolist() if e})[:3]
    columns = ", ".join(extra_headers) or "-"
    if examples:
        columns += " — " + ", ".join(examples)
    first_rows = frame.groupby(keys, sort=False, dropna=False)["__row__"].transform("min")
    summed = (
        frame.assign(__row__=first_rows)
        .groupby(keys, sort=False, dropna=False, as_index=False)
        .agg(units=("units", "sum"), __row__=("__row__", "first"))
    )
    summed["units"] = summed["units"].astype("Int64")
    summed = summed.sort_values("__row__", kind="stable").reset_index(drop=True)
    return summed, t("ingest.assume.summed", lang, rows=n, columns=columns)


__all__ = ["read_sales"]

"""Reading a sales table the way a person reads it: a report sheet from an IR site or a statistics
office, not only a tidy export.

A person sees the title lines, the header, the columns of numbers (months, markets or one count),
the label columns beside them, section rows that name the block below (``Domestic``, ``HMI``),
labels written only on a block's first row, and total rows — named (``Sub-total``, ``합계``) or not
(a footer that names the block above it, ``Korea Plants``; a group row whose numbers are the sum
of the rows below it, ``Volkswagen Group``). This module does the same, then decides what each
label column is by what it holds (:mod:`carsight.ingest.vocab`), fills the dimensions a table
lacks with documented defaults, and returns one row per figure, every assumption written down.

Nothing here knows a particular file: every rule is a property of the data (a row of labels
without numbers, numbers equal to the sum of a block, values that are country names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest import clean as C
from carsight.ingest import vocab as V
from carsight.ingest.grid import Grid
from carsight.ingest.headers import YEAR, header_lookup, normalise_header
from carsight.ingest.read import find_header_row
from carsight.ingest.wide import _is_subtotal_label, is_total_header, month_of_header, year_from_name
from carsight.warehouse import schema as S

ALL = "(all)"  # a dimension the file does not split by
DIMENSIONS = ("brand", "model", "market", "kind", "plant", "vehicle_class")
_GROUP_SEARCH = 80  # rows a group row may head
_MAX_STRUCTURED_ROWS = 200_000  # beyond this a file is a plain export: no section/footer analysis
_TOTAL_WORDS = ("total", "합계", "소계", "총계", "누계", "subtotal", "grandtotal")


@dataclass(eq=False)
class Report:
    """One sheet read as figures: ``frame`` has the raw text of every dimension, ``month``,
    ``units``, ``__row__`` (1 = first row under the header) and ``__header__`` (the file header the
    figure sat under), ``__extra__`` (labels of columns that are not a dimension)."""

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


@dataclass
class _Columns:
    headers: list[str]
    label: list[int] = field(default_factory=list)
    value: list[int] = field(default_factory=list)  # columns of figures to melt (or the one units column)
    value_kind: str = "none"  # months | markets | units
    months: dict[int, tuple[int | None, int]] = field(default_factory=dict)
    month_col: int | None = None
    year_col: int | None = None
    totals: list[int] = field(default_factory=list)
    ignored: list[int] = field(default_factory=list)
    forced: dict[int, str] = field(default_factory=dict)  # header → dimension from --map or synonyms


def _lang() -> str:
    from carsight.config import get_settings

    return get_settings().lang


def _note(key: str, **values) -> str:
    return t(f"ingest.assume.{key}", _lang(), **values)


# ---- header -------------------------------------------------------------------------------------------
def _header(grid: Grid, numbers: _Numbers) -> tuple[int, list[str], int]:
    """(header row index, header texts, first body row index). A second header line (text only,
    above the first figures) is joined to the first: ``MARCH`` over ``Units``."""
    rows = grid.rows
    h = find_header_row([[c or "" for c in r] for r in rows])
    width = grid.width
    top = [rows[h][i] if i < len(rows[h]) else None for i in range(width)]
    body = h + 1
    if body < len(rows):
        nxt = [rows[body][i] if i < len(rows[body]) else None for i in range(width)]
        filled = [c for c in nxt if c]
        numeric = [c for c in filled if numbers.is_number(c)]
        later = rows[body + 1] if body + 1 < len(rows) else []
        if len(filled) >= 2 and not numeric and any(numbers.is_number(c) for c in later if c):
            last = None
            for i, cell in enumerate(top):  # merged cells: the top label spans to the right
                top[i] = cell or last
                last = top[i]
            top = [" ".join(p for p in (a, b) if p) or None for a, b in zip(top, nxt, strict=True)]
            body += 1
    headers = []
    for i, cell in enumerate(top):
        headers.append(V.tidy(cell) if cell else f"column_{i + 1}")
    return h, headers, body


class _Numbers:
    """Every distinct cell of a sheet parsed as a number once (the loader's own parser, on the distinct
    texts only): report sheets repeat few values, and this is the costly part of reading them."""

    def __init__(self, frame: pd.DataFrame):
        cells = pd.unique(frame.to_numpy(dtype=object).ravel())
        cells = pd.Series([c for c in cells if c is not None and c == c], dtype="object")
        values, bad = C._number_detail(cells, dash_is_zero=True)
        self.value = dict(zip(cells, values.to_numpy(), strict=True))
        self.ok = dict(zip(cells, ~bad.to_numpy(), strict=True))

    def is_number(self, cell) -> bool:
        return cell is not None and bool(self.ok.get(cell, False)) and not _is_dash(cell)

    def column(self, cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(values with blank 0, bad: filled cells that are not numbers) for one column."""
        values = np.array([0.0 if c is None else self.value.get(c, np.nan) for c in cells], dtype=float)
        bad = np.array([c is not None and not self.ok.get(c, False) for c in cells], dtype=bool)
        return np.nan_to_num(values, nan=0.0), bad


def _is_dash(text) -> bool:
    return str(text).strip() in C._DASHES


# ---- months in cells --------------------------------------------------------------------------------
def _month_cells(values: pd.Series, year: int | None) -> pd.Series:
    """ISO month text for cells that name a month (``2023.01``, ``23.12``, ``January``, ``Febuary``,
    ``2024-03-05``); None where a cell names none. Month names take their year from ``year``."""
    out = pd.Series(None, index=values.index, dtype="object")
    text = values.astype("string").str.strip()
    ym = text.str.extract(r"^((?:19|20)\d{2})\s*[-./년]\s*(\d{1,2})(?:\s*[-./]\s*\d{1,2})?\s*(?:월|일)?\.?$")
    yy = text.str.extract(r"^(\d{2})\s*[./-]\s*(\d{2})$")
    for i in values.index:
        cell = text.get(i)
        if cell is None or cell is pd.NA:
            continue
        if isinstance(ym.at[i, 0], str):
            y, m = int(ym.at[i, 0]), int(ym.at[i, 1])
        elif isinstance(yy.at[i, 0], str):
            y, m = 2000 + int(yy.at[i, 0]), int(yy.at[i, 1])
        else:
            found = month_of_header(cell)
            if found is None:
                continue
            y, m = found[0] if found[0] is not None else year, found[1]
            if y is None:
                out.at[i] = f"?-{m:02d}"  # a month without a year: refused later with the reason
                continue
        if 1 <= m <= 12:
            out.at[i] = f"{y:04d}-{m:02d}-01"
    return out


# ---- columns ------------------------------------------------------------------------------------------
def _classify_columns(
    body: pd.DataFrame, headers: list[str], mapping: dict[str, str], wide: str, numbers: _Numbers
) -> _Columns:
    cols = _Columns(headers)
    lookup = header_lookup(S.SALES_MONTHLY.name)
    forced_by_map = {normalise_header(k): v for k, v in mapping.items()}
    numeric_share: dict[int, float] = {}
    for j in range(body.shape[1]):
        cells = body[j].dropna()
        if cells.empty:
            # An empty month column is a month not reported yet: still a month column of the layout.
            if month_of_header(headers[j]) is not None and wide in ("auto", "months"):
                cols.months[j] = month_of_header(headers[j])
            elif is_total_header(headers[j]) or not headers[j].startswith("column_"):
                cols.ignored.append(j)
            continue
        _, bad = numbers.column(cells)
        numeric_share[j] = 1.0 - float(bad.mean())
    for j in range(body.shape[1]):
        if j not in numeric_share:
            continue
        header = headers[j]
        target = forced_by_map.get(normalise_header(header)) or lookup.get(normalise_header(header))
        if header.startswith("column_"):
            target = forced_by_map.get(normalise_header(header))
        month = month_of_header(header)
        numeric = numeric_share[j] >= 0.9
        if target == YEAR or (target is None and month is None and numeric and _all_years(body[j])):
            cols.year_col = j if target == YEAR else cols.year_col
            if target != YEAR:
                cols.ignored.append(j)
            continue
        if target == "month" or (target is None and _mostly_months(body[j])):
            cols.month_col = j
            continue
        if target == "units":
            cols.value.append(j)
            cols.value_kind = "units"
            continue
        # A month header holds figures even where a cell is mistyped (that cell is rejected, not the column).
        if month is not None and numeric_share[j] >= 0.5 and wide in ("auto", "months"):
            cols.months[j] = month
            continue
        if is_total_header(header) and numeric:
            cols.totals.append(j)
            continue
        if target in DIMENSIONS:
            cols.forced[j] = target
            cols.label.append(j)
            continue
        if numeric:
            cols.value.append(j)  # decided below: markets, or the one units column
            continue
        cols.label.append(j)
    numeric_unknown = list(cols.value)
    if cols.value_kind == "units":  # a long table: one count per row; month-named columns are not figures
        units = [j for j in cols.value if lookup.get(normalise_header(headers[j])) == "units"]
        cols.ignored += [j for j in cols.value if j not in units[:1]] + list(cols.months)
        cols.value, cols.months = units[:1], {}
        return cols
    if cols.months and any(j for j in cols.months if body[j].notna().any()) and wide != "markets":
        cols.ignored += numeric_unknown
        cols.value, cols.value_kind = list(cols.months), "months"
        return cols
    markets = [j for j in numeric_unknown if V.is_market_like(headers[j])]
    if wide == "markets" or (wide == "auto" and len(markets) >= 2 and len(markets) >= 0.6 * len(numeric_unknown)):
        chosen = numeric_unknown if wide == "markets" else markets
        cols.ignored += [j for j in numeric_unknown if j not in chosen] + list(cols.months)
        cols.value, cols.value_kind, cols.months = chosen, "markets", {}
        return cols
    if len(numeric_unknown) == 1 and not cols.months and wide != "months":
        cols.value_kind = "units"
        return cols
    cols.value, cols.value_kind = [], "none"
    cols.ignored += numeric_unknown
    return cols


def _all_years(cells: pd.Series) -> bool:
    text = cells.dropna().astype(str).str.strip()
    return bool(len(text)) and bool(text.str.fullmatch(r"(?:19|20)\d{2}").all())


def _mostly_months(cells: pd.Series) -> bool:
    """A column whose cells name months (``2023.01``, ``23.12``, ``January``), not counts."""
    text = cells.dropna().astype(str).str.strip()
    if text.empty:
        return False
    distinct = pd.Series(text.unique())
    months = _month_cells(distinct, 2000)
    share = months.notna().mean()
    # Plain integers are counts, never months; a YY.MM column must hold only YY.MM cells.
    plain = distinct.str.fullmatch(r"\d+").mean()
    return share >= 0.9 and plain < 0.5


# ---- rows ---------------------------------------------------------------------------------------------
@dataclass
class _Rows:
    kind: np.ndarray  # per body row: blank | note | section | data
    labels: pd.DataFrame  # label cells after filling, per data row
    section: dict[int, dict[int, str]]  # data row -> {column: section label above it}
    group: dict[int, dict[int, str]]  # data row -> {column: footer label below it}
    subtotal: np.ndarray  # data rows that are totals
    stand_in: np.ndarray  # total rows whose block has no detail: kept as the figure
    share_rows: np.ndarray  # rows of ratios (market share), not counts


def _row_kinds(body: pd.DataFrame, cols: _Columns) -> np.ndarray:
    values = body[cols.value].notna().any(axis=1).to_numpy() if cols.value else np.zeros(len(body), bool)
    labels = body[cols.label].notna().sum(axis=1).to_numpy() if cols.label else np.zeros(len(body), int)
    anything = body.notna().any(axis=1).to_numpy()
    # A heading is one label on a row without figures; a row that fills several label columns but
    # no figure is a record whose figures are blank (0 in a count column).
    record = values | (labels >= 2)
    kinds = np.where(record, "data", np.where(labels == 1, "section", np.where(anything, "note", "blank")))
    for i in np.flatnonzero(kinds == "section"):
        cells = [c for c in body.iloc[i].tolist() if c]
        text = " ".join(cells)
        if len(cells) == 1 and (text[:1] in "*※＊(" or len(text) > 60):
            kinds[i] = "note"  # a footnote, not a heading
    return kinds


def _figures(body: pd.DataFrame, cols: _Columns, numbers: _Numbers) -> np.ndarray:
    """The figures as floats (blank 0), rows × value columns."""
    out = np.zeros((len(body), len(cols.value)))
    for k, j in enumerate(cols.value):
        out[:, k] = numbers.column(body[j])[0]
    return out


def _has_total_word(text: str) -> bool:
    if _is_subtotal_label(text):
        return True
    words = [V.key(w) for w in str(text).replace("-", " ").split()]
    return any(w in _TOTAL_WORDS for w in words)


def _analyse_rows(body: pd.DataFrame, cols: _Columns, figures: np.ndarray) -> _Rows:
    n = len(body)
    kinds = _row_kinds(body, cols)
    labels = body[cols.label].copy() if cols.label else pd.DataFrame(index=body.index)
    is_share = _share_rows(body, cols, figures)
    subtotal = np.zeros(n, bool)
    named = np.zeros(n, bool)  # totals that say so (Total, 합계), as against sums found by arithmetic
    share_rows = np.zeros(n, bool)
    section: dict[int, dict[int, str]] = {}
    group: dict[int, dict[int, str]] = {}
    structured = n <= _MAX_STRUCTURED_ROWS
    primary = _primary_label(labels, kinds)
    current: dict[int, str] = {}
    fill: dict[int, str] = {}
    block: list[int] = []
    for i in range(n):
        kind = kinds[i]
        if kind != "data":
            if kind == "section" and structured:
                for j in cols.label:
                    cell = body.iat[i, body.columns.get_loc(j)]
                    if cell and not _has_total_word(cell):
                        current = {**current, j: cell}
                fill, block = {}, []
            continue
        row_labels = {j: labels.at[labels.index[i], j] for j in cols.label if labels.at[labels.index[i], j]}
        if any(_has_total_word(v) for v in row_labels.values()):
            subtotal[i] = named[i] = True
        elif is_share[i]:
            share_rows[i] = True
        elif (
            structured
            and primary is not None
            and primary not in row_labels
            and block
            and np.array_equal(figures[i], figures[block].sum(axis=0))
            and (row_labels or (len(block) >= 2 and np.any(figures[i] != 0)))
        ):
            subtotal[i] = True  # a footer: its numbers are the block's sum, its label names the block
            for r in block:
                group[r] = {**group.get(r, {}), **row_labels}
        if structured:
            for j in cols.label:
                if row_labels.get(j) is None and j in fill and not subtotal[i]:
                    labels.iat[i, labels.columns.get_loc(j)] = fill[j]
                elif row_labels.get(j) is not None and not subtotal[i]:
                    fill[j] = row_labels[j]
            if subtotal[i]:
                for j in cols.label:  # a total row's group: its own labels, else the block's
                    if row_labels.get(j) is None and j in fill:
                        labels.iat[i, labels.columns.get_loc(j)] = fill[j]
        section[i] = dict(current)
        if subtotal[i]:
            fill, block = {}, []
        elif not share_rows[i]:
            block.append(i)
    # A group row is recognised by arithmetic alone, so it needs several columns of figures to be
    # sure: one column of counts has sums by chance.
    if structured and int(np.count_nonzero(np.any(figures != 0, axis=0))) >= 3:
        _group_rows(figures, kinds, subtotal, share_rows)
    stand_in = _stand_ins(labels, kinds, subtotal, named, section, group, cols)
    return _Rows(kinds, labels, section, group, subtotal & ~stand_in, stand_in, share_rows)


def _primary_label(labels: pd.DataFrame, kinds: np.ndarray) -> int | None:
    """The finest label column: filled on the most figure rows that are not totals (a model is named
    on every detail row, a plant only on its block's footer), then the most distinct values."""
    data = labels[kinds == "data"]
    totals = data.apply(lambda c: c.map(lambda v: bool(v) and _has_total_word(v))).any(axis=1)
    data = data[~totals]
    scores = {j: (int(data[j].notna().sum()), data[j].nunique()) for j in labels.columns}
    scores = {j: sc for j, sc in scores.items() if sc[0] > 0}
    return max(scores, key=lambda j: (scores[j], -j)) if scores else None


def _share_rows(body: pd.DataFrame, cols: _Columns, figures: np.ndarray) -> np.ndarray:
    """Rows of ratios among counts (``Market Share``: 0.0527 …, or ``5.3%``): every filled figure is a
    fraction below one, or written as a percentage."""
    if not cols.value:
        return np.zeros(len(body), bool)
    cells = body[cols.value]
    filled = cells.notna().to_numpy()
    percent = cells.apply(lambda c: c.astype("string").str.strip().str.endswith("%").fillna(False)).to_numpy(bool)
    fraction = (np.abs(figures) < 1) & (figures != np.round(figures))
    any_filled = filled.any(axis=1)
    all_fraction = np.all(~filled | fraction, axis=1)
    all_percent = np.all(~filled | percent, axis=1)
    return any_filled & (all_fraction | all_percent)


def _group_rows(figures: np.ndarray, kinds: np.ndarray, subtotal: np.ndarray, share_rows: np.ndarray) -> None:
    """Mark rows whose figures are the sum of the two or more rows right below them
    (``Volkswagen Group`` above Volkswagen, Skoda, Audi …): a heading that carries its block's total.

    Published group totals are revised apart from their members (a unit here and there, a brand
    missing for a month), so with six or more columns of figures a sum counts when it is within 1%
    in nine columns out of ten; with fewer columns it must be exact."""
    rows = [i for i in range(len(kinds)) if kinds[i] == "data" and not subtotal[i] and not share_rows[i]]
    position = {r: k for k, r in enumerate(rows)}
    for r in rows:
        head = figures[r]
        filled = head != 0
        if subtotal[r] or not filled.any() or np.any(head < 0):
            continue
        loose = int(filled.sum()) >= 6
        running = np.zeros(figures.shape[1])
        k, taken = position[r] + 1, 0
        while k < len(rows) and taken < _GROUP_SEARCH and not subtotal[rows[k]]:
            running += figures[rows[k]]
            taken += 1
            gap = np.abs(running - head)
            if np.mean(running > head * 1.05 + 2) > 0.5:
                break  # the rows below already add up to more: not this row's block
            close = np.mean(gap[filled] <= np.maximum(0.01 * head[filled], 2)) >= 0.9 if loose else not gap.any()
            if taken >= 2 and close and not np.any(running[~filled] != 0):
                subtotal[r] = True
                break
            k += 1


def _stand_ins(labels, kinds, subtotal, named, section, group, cols) -> np.ndarray:
    """Named total rows whose group has no detail rows in the file (``Export · Sub-total`` of a plant
    that lists no export models): the total is the only figure there is, so it is kept, as ``(all)``.
    Sums found by arithmetic always have their detail rows, by construction."""
    out = np.zeros(len(kinds), bool)
    details = [i for i in range(len(kinds)) if kinds[i] == "data" and not subtotal[i]]
    if not details:
        return out
    for i in np.flatnonzero(named):
        own = {j: v for j in cols.label if (v := labels.iat[i, labels.columns.get_loc(j)]) and not _has_total_word(v)}
        own.update({("s", j): v for j, v in section.get(i, {}).items()})
        if not own:
            continue
        found = False
        for d in details:
            theirs = {j: labels.iat[d, labels.columns.get_loc(j)] for j in cols.label}
            theirs.update({j: v for j, v in group.get(d, {}).items() if theirs.get(j) is None})
            theirs.update({("s", j): v for j, v in section.get(d, {}).items()})
            if all(theirs.get(k) == v for k, v in own.items()):
                found = True
                break
        out[i] = not found
    return out


# ---- what each label column is ----------------------------------------------------------------------------
_DIMS_BY_VALUE = (V.KIND, V.MARKET, V.PLANT, V.VEHICLE_CLASS, V.BRAND, V.POWERTRAIN)


def _assign(virtual: dict[tuple, list[str]], forced: dict[tuple, tuple[str, bool]]) -> tuple[dict, list[tuple]]:
    """Dimension of each virtual label column (("d"|"s"|"g", column)): ``--map`` first, then the header's
    synonym unless the values clearly say otherwise, then the values; the model is the detail column
    with the most distinct values left. Returns (assignment, columns left over)."""
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
    yearly columns, no month anywhere, no numbers."""
    mapping = dict(mapping or {})
    constants = dict(constants or {})
    if not grid.rows or not any(any(r) for r in grid.rows):
        raise NotASalesTable(t("ingest.refuse.empty", _lang()), file=grid.file)
    frame = grid.frame()
    numbers = _Numbers(frame)
    h, headers, first = _header(grid, numbers)
    title = [" ".join(c for c in row if c) for row in grid.rows[:h]]
    texts = [("title", line) for line in title] + [("sheet", grid.sheet or ""), ("file", _stem(grid.file))]
    hints = V.hints_from(texts)
    body = frame.iloc[first:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    cols = _classify_columns(body, headers, mapping, wide, numbers)
    if cols.value_kind == "none":
        raise NotASalesTable(_why_no_figures(headers, cols), file=grid.file, column=None)
    # --map targets and header synonyms for label columns
    forced_cols = {j: cols.forced[j] for j in cols.forced}
    user = {normalise_header(k) for k in mapping}
    figures = _figures(body, cols, numbers)
    rows = _analyse_rows(body, cols, figures)
    if not np.any(figures[rows.kind == "data"] != 0):
        raise NotASalesTable(t("ingest.refuse.no_figures_yet", _lang()), file=grid.file)
    data = np.flatnonzero(((rows.kind == "data") & ~rows.subtotal & ~rows.share_rows) | rows.stand_in)
    if not len(data):
        raise NotASalesTable(t("ingest.refuse.no_rows", _lang()), file=grid.file)
    notes: list[str] = []
    virtual: dict[tuple, list[str]] = {}
    for j in cols.label:
        values = [v for v in rows.labels.loc[data, j].tolist() if v and not _has_total_word(v)]
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
            return [v if v and not _has_total_word(v) else None for v in rows.labels.loc[data, j].tolist()]
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


def _why_no_figures(headers: list[str], cols: _Columns) -> str:
    heads = [h for h in headers if not h.startswith("column_")]
    years = [h for h in heads if re.match(r"^(?:19|20)\d{2}(?!\d)", h)]
    if len(years) >= 2 and not cols.months:
        return t("ingest.refuse.yearly", _lang(), headers=", ".join(years[:4]))
    return t("ingest.refuse.no_figures", _lang(), headers=", ".join(heads[:8]))


def _years(body, cols: _Columns, data: np.ndarray, year: int | None, hints: V.Hints, file: str) -> pd.Series:
    """The year of each figure row whose months carry none: a year column, ``--year``, the title
    or sheet, the file name."""
    fixed = year or hints.year or year_from_name(file)
    if cols.year_col is not None:
        values = pd.to_numeric(
            body.loc[data, cols.year_col].astype("string").str.extract(r"(\d{4})")[0], errors="coerce"
        )
        return values.fillna(fixed if fixed else np.nan).reset_index(drop=True)
    return pd.Series(float(fixed) if fixed else np.nan, index=range(len(data)))


def _month_of_rows(raw: pd.Series, years: pd.Series) -> pd.Series:
    """Month cells as ISO months: a full month (``2024-03``, ``24.03``), a month name, or a month number
    (``3``, ``3월``) with the row's year. Cells that name no month are left as written (rejected later)."""
    number = pd.to_numeric(raw.astype("string").str.extract(r"^\s*(\d{1,2})\s*월?\s*$")[0], errors="coerce")
    out = pd.Series(None, index=raw.index, dtype="object")
    for year in years.dropna().unique():
        rows = years == year
        out[rows] = _month_cells(raw[rows], int(year))
    out[years.isna()] = _month_cells(raw[years.isna()], None)
    numbered = number.between(1, 12) & years.notna()
    out[numbered] = [f"{int(y):04d}-{int(m):02d}-01" for y, m in zip(years[numbered], number[numbered], strict=True)]
    return out.where(out.notna(), raw)


def _melt(out, body, cols: _Columns, data, headers, years: pd.Series, hints: V.Hints, notes: list[str]) -> pd.DataFrame:
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

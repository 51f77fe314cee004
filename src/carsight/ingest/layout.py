"""Reading the layout of a report sheet the way a person reads it.

The header, the columns of figures (months, markets or one count) and the label columns beside them,
section rows that name the block below (``Domestic``, ``HMI``), labels written only on a block's
first row, and total rows — named (``Sub-total``, ``합계``) or not (a footer that names the block
above it, ``Korea Plants``; a group row whose figures are the sum of the rows below it, ``Volkswagen
Group``).

Nothing here knows a particular file: every rule is a property of the data (a row of labels without
figures, figures equal to the sum of a block). :mod:`carsight.ingest.report` then decides what each
label column is and turns the sheet into figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.ingest import clean as C
from carsight.ingest import vocab as V
from carsight.ingest.grid import Grid
from carsight.ingest.headers import YEAR, header_lookup, normalise_header
from carsight.ingest.read import find_header_row
from carsight.ingest.wide import _is_subtotal_label, is_total_header, month_of_header
from carsight.warehouse import schema as S

DIMENSIONS = ("brand", "model", "market", "kind", "plant", "vehicle_class")
_GROUP_SEARCH = 80  # rows a group row may head
MAX_STRUCTURED_ROWS = 200_000  # beyond this a file is a plain export: no section/footer analysis
_TOTAL_WORDS = ("total", "합계", "소계", "총계", "누계", "subtotal", "grandtotal")


@dataclass
class Columns:
    """What each column of a sales sheet holds: labels, figures (months, markets or units), totals."""

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


# ---- header -------------------------------------------------------------------------------------------
def read_header(grid: Grid, numbers: Numbers) -> tuple[int, list[str], int]:
    """(header row index, header texts, first body row index).

    A second header line (text only, above the first figures) is joined to the first: ``MARCH`` over
    ``Units``.
    """
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


class Numbers:
    """Every distinct cell of a sheet parsed as a number once (the loader's own parser, on the distinct texts only).

    Report sheets repeat few values, and this is the costly part of reading them.
    """

    def __init__(self, frame: pd.DataFrame):
        cells = pd.unique(frame.to_numpy(dtype=object).ravel())
        cells = pd.Series([c for c in cells if c is not None and c == c], dtype="object")
        values, bad = C._number_detail(cells, dash_is_zero=True)
        self.value = dict(zip(cells, values.to_numpy(), strict=True))
        self.ok = dict(zip(cells, ~bad.to_numpy(), strict=True))

    def is_number(self, cell) -> bool:
        """Whether a cell is a figure (a parsed number that is not a dash)."""
        return cell is not None and bool(self.ok.get(cell, False)) and not _is_dash(cell)

    def column(self, cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(values with blank 0, bad: filled cells that are not numbers) for one column."""
        values = np.array([0.0 if c is None else self.value.get(c, np.nan) for c in cells], dtype=float)
        bad = np.array([c is not None and not self.ok.get(c, False) for c in cells], dtype=bool)
        return np.nan_to_num(values, nan=0.0), bad


def _is_dash(text) -> bool:
    return str(text).strip() in C._DASHES


# ---- months in cells --------------------------------------------------------------------------------
def month_cells(values: pd.Series, year: int | None) -> pd.Series:
    """ISO month text for cells that name a month (``2023.01``, ``23.12``, ``January``, ``Febuary``, ``2024-03-05``).

    None where a cell names none. Month names take their year from ``year``.
    """
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
def classify_columns(
    body: pd.DataFrame, headers: list[str], mapping: dict[str, str], wide: str, numbers: Numbers
) -> Columns:
    """Which columns of a sales sheet are labels and which are figures."""
    cols = Columns(headers)
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
    months = month_cells(distinct, 2000)
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


def _row_kinds(body: pd.DataFrame, cols: Columns) -> np.ndarray:
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


def figures_of(body: pd.DataFrame, cols: Columns, numbers: Numbers) -> np.ndarray:
    """The figures as floats (blank 0), rows × value columns."""
    out = np.zeros((len(body), len(cols.value)))
    for k, j in enumerate(cols.value):
        out[:, k] = numbers.column(body[j])[0]
    return out


def has_total_word(text: str) -> bool:
    """Whether a label names a total (Total, 합계, Sub-total, …)."""
    if _is_subtotal_label(text):
        return True
    words = [V.key(w) for w in str(text).replace("-", " ").split()]
    return any(w in _TOTAL_WORDS for w in words)


def analyse_rows(body: pd.DataFrame, cols: Columns, figures: np.ndarray) -> _Rows:
    """Read the rows of a sales sheet: their kind, labels, sections, groups and totals."""
    n = len(body)
    kinds = _row_kinds(body, cols)
    labels = body[cols.label].copy() if cols.label else pd.DataFrame(index=body.index)
    is_share = _share_rows(body, cols, figures)
    subtotal = np.zeros(n, bool)
    named = np.zeros(n, bool)  # totals that say so (Total, 합계), as against sums found by arithmetic
    share_rows = np.zeros(n, bool)
    section: dict[int, dict[int, str]] = {}
    group: dict[int, dict[int, str]] = {}
    structured = n <= MAX_STRUCTURED_ROWS
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
                    if cell and not has_total_word(cell):
                        current = {**current, j: cell}
                fill, block = {}, []
            continue
        row_labels = {j: labels.at[labels.index[i], j] for j in cols.label if labels.at[labels.index[i], j]}
        if any(has_total_word(v) for v in row_labels.values()):
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
    """The finest label column.

    Filled on the most figure rows that are not totals (a model is named on every detail row, a
    plant only on its block's footer), then the most distinct values.
    """
    data = labels[kinds == "data"]
    totals = data.apply(lambda c: c.map(lambda v: bool(v) and has_total_word(v))).any(axis=1)
    data = data[~totals]
    scores = {j: (int(data[j].notna().sum()), data[j].nunique()) for j in labels.columns}
    scores = {j: sc for j, sc in scores.items() if sc[0] > 0}
    return max(scores, key=lambda j: (scores[j], -j)) if scores else None


def _share_rows(body: pd.DataFrame, cols: Columns, figures: np.ndarray) -> np.ndarray:
    """Rows of ratios among counts (``Market Share``.

    0.0527 …, or ``5.3%``): every filled figure is a fraction below one, or written as a percentage.
    """
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
    """Mark rows whose figures are the sum of the two or more rows right below them.

    E.g. ``Volkswagen Group`` above Volkswagen, Skoda, Audi …: a heading that carries its block's
    total.

    Published group totals are revised apart from their members (a unit here and there, a brand
    missing for a month), so with six or more columns of figures a sum counts when it is within 1%
    in nine columns out of ten; with fewer columns it must be exact.
    """
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
    """Named total rows whose group has no detail rows in the file.

    E.g. ``Export · Sub-total`` of a plant that lists no export models: the total is the only figure
    there is, so it is kept, as ``(all)``. Sums found by arithmetic always have their detail rows,
    by construction.
    """
    out = np.zeros(len(kinds), bool)
    details = [i for i in range(len(kinds)) if kinds[i] == "data" and not subtotal[i]]
    if not details:
        return out
    for i in np.flatnonzero(named):
        own = {j: v for j in cols.label if (v := labels.iat[i, labels.columns.get_loc(j)]) and not has_total_word(v)}
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

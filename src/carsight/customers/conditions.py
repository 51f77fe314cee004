"""Readable yes/no conditions on the columns of a table, for trigger rules.

One condition is ``col=v``, ``col!=v``, ``col<=x``, ``col<x``, ``col>=x``, ``col>x``, ``a<col<=b``
or ``col in [a, b)`` with cut points written exactly as used, so a rule read back from a file or the
warehouse selects the same rows (:func:`rule_mask` on a frame, :func:`rule_predicate` as an Ibis
filter). :class:`Discretiser` turns a table into such conditions: quantile bins or the user's cut
points for numbers, values for categories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carsight.customers.encoding import as_missing, looks_like_dates, looks_like_numbers, to_number
from carsight.errors import InputError

JOIN = " & "
CLOSED = ("auto", "left", "right")
# A text column with more distinct values than this share of its rows is an id or free text.
ID_LIKE_SHARE = 0.5


# ---------------------------------------------------------------------------------------------
# Conditions: one readable test on one column
# ---------------------------------------------------------------------------------------------
def format_number(value: float) -> str:
    """A cut point as written in a condition.

    Whole numbers without ``.0``, others in the shortest form that reads back to the same float (so
    a condition can be re-applied exactly).
    """
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True)
class Condition:
    """``column op value``.

    ``op`` is one of ``= != <= < >= >`` or ``(]`` / ``[)`` for an interval ``low<col<=high`` / ``col
    in [low, high)`` (then ``value`` is the pair).
    """

    column: str
    op: str
    value: str | float | tuple[float, float]

    @property
    def numeric(self) -> bool:
        """Whether the condition compares numbers (not ``=``/``!=`` on a category)."""
        return self.op not in ("=", "!=")

    @property
    def text(self) -> str:
        """The condition as text (``a<col<=b``, ``col in [a, b)``, ``col=v``)."""
        c, v = self.column, self.value
        if self.op == "(]":
            return f"{format_number(v[0])}<{c}<={format_number(v[1])}"
        if self.op == "[)":
            return f"{c} in [{format_number(v[0])}, {format_number(v[1])})"
        shown = format_number(v) if self.numeric else str(v)
        return f"{c}{self.op}{shown}"

    def mask(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """True where the row meets the condition (``values``.

        Floats for numeric conditions, text for categorical ones; missing values never meet a
        condition).
        """
        if self.op == "=":
            return np.asarray(pd.Series(values).eq(self.value).fillna(False), dtype=bool)
        if self.op == "!=":
            s = pd.Series(values)
            return np.asarray(s.notna() & s.ne(self.value), dtype=bool)
        x = np.asarray(values, dtype="float64")
        with np.errstate(invalid="ignore"):
            if self.op == "(]":
                return (x > self.value[0]) & (x <= self.value[1])
            if self.op == "[)":
                return (x >= self.value[0]) & (x < self.value[1])
            return {"<=": x <= self.value, "<": x < self.value, ">=": x >= self.value, ">": x > self.value}[self.op]

    def predicate(self, column):
        """The same test as an Ibis boolean expression on ``column`` (missing values are excluded)."""
        v = self.value
        if self.op in ("=", "!="):
            number = _as_float(v)
            if column.type().is_numeric() and number is not None:
                left, right = column.cast("float64"), number
            else:
                left, right = column.cast("string"), v
            return (left == right) if self.op == "=" else (column.notnull() & (left != right))
        x = column.cast("float64")
        if self.op == "(]":
            return (x > v[0]) & (x <= v[1])
        if self.op == "[)":
            return (x >= v[0]) & (x < v[1])
        return {"<=": x <= v, "<": x < v, ">=": x >= v, ">": x > v}[self.op]


_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf)"
_INTERVAL = re.compile(rf"^({_NUM})<(.+)<=({_NUM})$")
_HALF_OPEN = re.compile(rf"^(.+) in \[({_NUM}), ({_NUM})\)$")
_SIMPLE = re.compile(r"^(.+?)(<=|>=|!=|<|>|=)(.*)$")


def parse_condition(text: str) -> Condition:
    """The :class:`Condition` a condition text stands for (the inverse of ``Condition.text``)."""
    text = text.strip()
    for pattern, op in ((_INTERVAL, "(]"), (_HALF_OPEN, "[)")):
        found = pattern.match(text)
        if found:
            if op == "(]":
                low, column, high = found.groups()
            else:
                column, low, high = found.groups()
            return Condition(column.strip(), op, (float(low), float(high)))
    found = _SIMPLE.match(text)
    if not found or not found.group(1).strip():
        raise InputError(
            f"'{text}' is not a condition",
            column="conditions",
            expected="col=v, col!=v, col<=x, col<x, col>=x, col>x, a<col<=b or col in [a, b)",
        )
    column, op, value = found.group(1).strip(), found.group(2), found.group(3).strip()
    if op in ("=", "!="):
        return Condition(column, op, value)
    try:
        return Condition(column, op, float(value))
    except ValueError:
        raise InputError(f"'{value}' in '{text}' is not a number", column="conditions") from None


def parse_conditions(text: str) -> list[Condition]:
    """The conditions of a rule (``a=1 & 30<age<=40``)."""
    parts = [p for p in str(text).split(JOIN) if p.strip()]
    if not parts:
        raise InputError("the rule has no conditions", column="conditions")
    return [parse_condition(p) for p in parts]


def _as_float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def rule_mask(frame: pd.DataFrame, conditions: str | list[Condition]) -> np.ndarray:
    """Rows of ``frame`` that meet every condition of a rule (for a target list from a chosen rule)."""
    parsed = parse_conditions(conditions) if isinstance(conditions, str) else conditions
    out = np.ones(len(frame), dtype=bool)
    for cond in parsed:
        if cond.column not in frame.columns:
            raise InputError("the rule names a column the table does not have", column=cond.column)
        col = frame[cond.column]
        if cond.numeric:
            values = to_number(col)
        elif _as_float(cond.value) is not None and looks_like_numbers(col):
            # A number used as a category (0/1 flags): compare as the discretiser wrote it.
            values = to_number(col).map(format_number, na_action="ignore").astype("string")
        else:
            values = as_missing(col)
        out &= cond.mask(values)
    return out


def rule_predicate(table, conditions: str):
    """An Ibis filter for the rows of ``table`` that meet every condition of a rule."""
    parsed = parse_conditions(conditions)
    expr = None
    for cond in parsed:
        if cond.column not in table.columns:
            raise InputError("the rule names a column the table does not have", column=cond.column)
        part = cond.predicate(table[cond.column])
        expr = part if expr is None else expr & part
    return expr


# ---------------------------------------------------------------------------------------------
# Discretisation
# ---------------------------------------------------------------------------------------------
def _quantile_edges(values: np.ndarray, bins: int, closed: str) -> list[float]:
    """Inner cut points at the quantiles, each an observed value (so it reads as one).

    Right-closed bins cut at the quantile value itself (``x<=v``); left-closed bins at the next
    observed value above it (``x>=w``), so a count column that is mostly zero cuts at 0 / at 1.
    """
    uniq = np.unique(values)
    if len(uniq) < 2:
        return []
    qs = np.quantile(values, [i / bins for i in range(1, bins)], method="inverted_cdf")
    edges = set()
    for q in qs:
        if closed == "right":
            if q < uniq[-1]:
                edges.add(float(q))
        else:
            above = uniq[uniq > q]
            if len(above):
                edges.add(float(above[0]))
    return sorted(edges)


def numeric_conditions(column: str, edges: list[float], closed: str) -> list[Condition]:
    """Every interval between the cut points and every threshold (at most / at least an inner cut)."""
    e = list(edges)
    k = len(e)
    if k == 0:
        return []
    if closed == "right":
        out = [Condition(column, "<=", e[0])]
        out += [Condition(column, "(]", (e[i], e[i + 1])) for i in range(k - 1)]
        out += [Condition(column, ">", e[-1])]
        out += [Condition(column, "<=", e[i]) for i in range(1, k)]
        out += [Condition(column, ">", e[i]) for i in range(k - 1)]
    else:
        out = [Condition(column, "<", e[0])]
        out += [Condition(column, "[)", (e[i], e[i + 1])) for i in range(k - 1)]
        out += [Condition(column, ">=", e[-1])]
        out += [Condition(column, "<", e[i]) for i in range(1, k)]
        out += [Condition(column, ">=", e[i]) for i in range(k - 1)]
    return out


class Discretiser:
    """Turns a table into yes/no conditions.

    Parameters
    ----------
    bins : int
        Quantile bins per numeric column without cut points of its own.
    cuts : dict, optional
        ``{column: [cut points]}``: these columns are cut exactly there.
    closed : {"auto", "left", "right"} or dict
        Which end of a bin is closed: ``right`` gives ``x<=a``, ``a<x<=b``, ``x>b``; ``left`` gives
        ``x<a``, ``x in [a, b)``, ``x>=b``. ``auto``: left for whole-number columns (counts read as
        "at least"), right otherwise. A dict sets it per column (others: auto).
    max_categories : int
        The most frequent values kept per text column.
    """

    def __init__(self, bins: int = 4, cuts: dict | None = None, closed: str | dict = "auto", max_categories: int = 50):
        self.bins = bins
        self.cuts = cuts
        self.closed = closed
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> Discretiser:
        """Learn the cut points of every column of ``frame``."""
        closures = self.closed if isinstance(self.closed, dict) else {}
        default = "auto" if isinstance(self.closed, dict) else self.closed
        for value in [default, *closures.values()]:
            if value not in CLOSED:
                raise InputError(f"closed='{value}'", column="closed", expected="auto, left or right")
        if int(self.bins) < 2:
            raise InputError(f"{self.bins} bins", column="bins", expected="at least 2")
        cuts = dict(self.cuts or {})
        unknown = [c for c in cuts if c not in frame.columns]
        if unknown:
            raise InputError(
                "cut points for a column the table does not have", column=unknown[0], expected="a column name"
            )
        self.conditions_: list[Condition] = []
        self.kinds_: dict[str, str] = {}
        # column → why it gives no condition: empty, constant, id_like (a value per row) or dates.
        self.dropped_: dict[str, str] = {}
        for name in frame.columns:
            col = frame[name]
            dates = looks_like_dates(col)
            numeric = not dates and looks_like_numbers(col)
            values = to_number(col) if numeric else None
            if name in cuts and not numeric:
                raise InputError("cut points given for a column that is not numeric", column=name)
            if numeric and (name in cuts or values.nunique() > 2):
                present = values.dropna().to_numpy()
                if len(present) == 0:
                    self.dropped_[name] = "empty"
                    continue
                whole = bool(np.all(np.mod(present, 1) == 0))
                closed = closures.get(name, default)
                closed = closed if closed != "auto" else ("left" if whole else "right")
                if name in cuts:
                    edges = sorted({float(c) for c in cuts[name]})
                else:
                    edges = _quantile_edges(present, int(self.bins), closed)
                conds = numeric_conditions(name, edges, closed)
                if not conds:
                    self.dropped_[name] = "constant"
                    continue
                self.kinds_[name] = "numeric"
                self.conditions_ += conds
                continue
            if dates:
                self.dropped_[name] = "dates"
                continue
            text = values.map(format_number, na_action="ignore").astype("string") if numeric else as_missing(col)
            counts = text.value_counts()
            if len(counts) < 2:
                self.dropped_[name] = "constant" if len(counts) else "empty"
                continue
            if not numeric and len(counts) > ID_LIKE_SHARE * text.notna().sum() and len(counts) > 20:
                self.dropped_[name] = "id_like"
                continue
            self.kinds_[name] = "number-category" if numeric else "category"
            kept = counts.head(int(self.max_categories))
            self.conditions_ += [Condition(name, "=", str(v)) for v in kept.index]
            if len(counts) >= 3:
                # "Not the usual value" (channel!=showroom) is a segment marketers use; for two values
                # it is just the other value.
                self.conditions_.append(Condition(name, "!=", str(counts.index[0])))
        if not self.conditions_:
            reasons = ", ".join(f"{k}: {v}" for k, v in self.dropped_.items()) or "no columns"
            raise InputError(f"no column gives a usable condition ({reasons})")
        self.columns_ = [c for c in frame.columns if c in self.kinds_]
        return self

    @property
    def condition_texts_(self) -> list[str]:
        """The learned conditions as text, in column order."""
        return [c.text for c in self.conditions_]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows × conditions, True where the row meets the condition."""
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise InputError("the table lacks a column the conditions were built on", column=missing[0])
        typed = {}
        for name in self.columns_:
            kind = self.kinds_[name]
            if kind == "category":
                typed[name] = as_missing(frame[name])
            elif kind == "number-category":
                typed[name] = to_number(frame[name]).map(format_number, na_action="ignore").astype("string")
            else:
                typed[name] = to_number(frame[name])
        out = np.zeros((len(frame), len(self.conditions_)), dtype=bool)
        for j, cond in enumerate(self.conditions_):
            out[:, j] = cond.mask(typed[cond.column])
        return out

"""Trigger conditions for a yes/no outcome, found by association rules.

Numeric columns are cut into readable conditions (:mod:`carsight.customers.conditions`), every set
of up to ``max_conditions`` conditions whose rows reach ``min_support`` together with the outcome is
mined, redundant and weak rules are pruned, and the rest are ranked by profit efficiency (margin and
contact cost given) or by lift.

The miner looks for one consequent only (the outcome), so it is a depth-first search over packed bit
sets of the positive rows (Eclat); its rules are exactly those of mlxtend's FP-growth followed by
``association_rules`` with the outcome as consequent (``tests/customers/test_triggers.py`` checks it).
Domain only: frames in, frames out; see docs/insights.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from carsight.customers.conditions import (
    JOIN,
    Condition,
    Discretiser,
    format_number,
    parse_condition,
    parse_conditions,
    rule_mask,
    rule_predicate,
)
from carsight.customers.encoding import parse_target
from carsight.errors import InputError

__all__ = [
    "RULE_COLUMNS",
    "Condition",
    "Discretiser",
    "TriggerMiner",
    "format_number",
    "mine_itemsets",
    "parse_condition",
    "parse_conditions",
    "profit_efficiency",
    "rule_mask",
    "rule_predicate",
    "triggers_on_table",
]

# The rule table, in this order (the CLI writes exactly these columns).
RULE_COLUMNS = (
    "conditions",
    "coverage",
    "support",
    "confidence",
    "lift",
    "customers",
    "responders",
    "profit_efficiency",
)
# A rule is representative when at most this share of its customers is already covered by any one
# representative rule ranked above it.
REPRESENTATIVE_OVERLAP = 0.5
# eclat: carsight's single-consequent search; fpgrowth: mlxtend's FP-growth (same rules, slower).
ALGORITHMS = ("eclat", "fpgrowth")


# ---------------------------------------------------------------------------------------------
# Mining: every condition set whose rows with the outcome reach the minimum support
# ---------------------------------------------------------------------------------------------
def _pack(matrix: np.ndarray) -> np.ndarray:
    """Columns of a rows × items bool matrix as bit sets: items × 64-bit words."""
    packed = np.packbits(np.ascontiguousarray(matrix.T), axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return packed.view(np.uint64)


def _popcount(bits: np.ndarray) -> np.ndarray:
    return np.bitwise_count(bits).sum(axis=-1, dtype=np.int64)


def min_count(min_support: float, n: int) -> int:
    """The fewest rows with ``rows / n >= min_support`` (the comparison mlxtend makes)."""
    c = max(1, math.ceil(min_support * n))
    while c > 1 and (c - 1) / n >= min_support:
        c -= 1
    while c / n < min_support:
        c += 1
    return c


def _mine(
    items: np.ndarray, groups: np.ndarray, y: np.ndarray, max_len: int, min_support: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item sets as rows of item indices, increasing, padded with -1; rows meeting them; of which positive).

    Depth first; each node scores all its children in one vectorised AND + popcount.
    """
    n = len(y)
    need = min_count(min_support, n)
    pos = _pack(items[y])
    every = _pack(items)
    first = _popcount(pos)
    frequent = np.flatnonzero(first >= need)
    freq_groups = groups[frequent]
    sets: list[np.ndarray] = []
    customers: list[np.ndarray] = []
    responders: list[np.ndarray] = []

    def record(prefix: tuple, kept: np.ndarray, all_counts: np.ndarray, pos_counts: np.ndarray) -> None:
        block = np.full((len(kept), max_len), -1, dtype=np.int64)
        block[:, : len(prefix)] = prefix
        block[:, len(prefix)] = kept
        sets.append(block)
        customers.append(all_counts)
        responders.append(pos_counts)

    def extend(prefix: tuple, pos_bits: np.ndarray, all_bits: np.ndarray, group: int) -> None:
        cands = frequent[freq_groups > group]
        if not len(cands):
            return
        child_pos = pos_bits & pos[cands]
        counts = _popcount(child_pos)
        keep = counts >= need
        if not keep.any():
            return
        kept = cands[keep]
        child_all = all_bits & every[kept]
        record(prefix, kept, _popcount(child_all), counts[keep])
        if len(prefix) + 1 < max_len:
            kept_pos = child_pos[keep]
            for k, item in enumerate(kept):
                extend((*prefix, int(item)), kept_pos[k], child_all[k], int(groups[item]))

    if len(frequent):
        record((), frequent, _popcount(every[frequent]), first[frequent])
        if max_len > 1:
            for i in frequent:
                extend((int(i),), pos[i], every[i], int(groups[i]))
    if not sets:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, max_len), dtype=np.int64), empty, empty
    return np.concatenate(sets), np.concatenate(customers), np.concatenate(responders)


def _mine_fpgrowth(
    items: np.ndarray, groups: np.ndarray, y: np.ndarray, max_len: int, min_support: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same as :func:`_mine` through mlxtend's FP-growth.

    Every frequent item set with the outcome as an extra item, then the sets that hold the outcome
    and at most one condition per column. It mines the sets without the outcome too, so it is slower
    on wide tables; kept as the reference method.
    """
    from mlxtend.frequent_patterns import fpgrowth

    n, p = items.shape
    onehot = pd.DataFrame(np.column_stack([items, y]), columns=list(range(p + 1)))
    found = fpgrowth(onehot, min_support=min_support, max_len=max_len + 1)
    counts = {frozenset(s): int(round(v * n)) for s, v in zip(found.itemsets, found.support, strict=True)}
    rows, customers, responders = [], [], []
    for itemset, count in counts.items():
        if p not in itemset or len(itemset) < 2:
            continue
        antecedent = sorted(itemset - {p})
        if len({int(groups[i]) for i in antecedent}) < len(antecedent):
            continue
        rows.append(antecedent + [-1] * (max_len - len(antecedent)))
        customers.append(counts[frozenset(antecedent)])
        responders.append(count)
    sets = np.array(rows, dtype=np.int64).reshape(-1, max_len)
    return sets, np.array(customers, dtype=np.int64), np.array(responders, dtype=np.int64)


def mine_itemsets(
    items: np.ndarray, groups: np.ndarray, y: np.ndarray, *, max_len: int, min_support: float
) -> pd.DataFrame:
    """All frequent item sets, at most one item per column.

    Sets of at most ``max_len`` items, at most one per group (column), whose rows with the outcome
    are at least ``min_support`` of all rows.

    Parameters
    ----------
    items : ndarray of bool, rows × items
    groups : ndarray of int, one per item, non-decreasing (items of one column are adjacent)
    y : ndarray of bool, one per row (the outcome)

    Returns
    -------
    DataFrame
        ``itemset`` (tuple of item indices, increasing), ``customers`` (rows meeting all items) and
        ``responders`` (those with the outcome).
    """
    sets, customers, responders = _mine(items, groups, y, max_len, min_support)
    return pd.DataFrame({"itemset": _tuples(sets), "customers": customers, "responders": responders})


def _tuples(sets: np.ndarray) -> list[tuple]:
    return [tuple(int(i) for i in row if i >= 0) for row in sets]


def _keys(sets: np.ndarray, base: int) -> np.ndarray:
    """One integer per item set (padding counts 0), for exact look-ups of subsets."""
    weights = base ** np.arange(sets.shape[1], dtype=np.int64)
    return (sets + 1) @ weights


def best_part_confidence(sets: np.ndarray, confidence: np.ndarray, n_items: int) -> np.ndarray:
    """The best confidence among the sub-rules of each item set.

    For each item set, the best confidence among the rules made of a proper, non-empty part of it
    (NaN for single conditions). Parts are always mined too (support only falls as conditions are
    added), so each is found by an exact key look-up.
    """
    m, width = sets.shape
    base = n_items + 1
    if width and base**width >= 2**62:
        raise InputError(
            f"{n_items} conditions with up to {width} per rule are too many to index",
            column="max_conditions",
            expected="fewer conditions per rule or fewer bins",
        )
    lengths = (sets >= 0).sum(axis=1)
    keys = _keys(sets, base)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    best = np.full(m, np.nan)
    for length in range(2, width + 1):
        rows = np.flatnonzero(lengths == length)
        if not len(rows):
            continue
        acc = np.full(len(rows), np.nan)
        for drop in range(length):
            part = np.delete(sets[rows], drop, axis=1)
            part = np.pad(part, ((0, 0), (0, 1)), constant_values=-1)
            found = order[np.searchsorted(sorted_keys, _keys(part, base))]
            acc = np.fmax(acc, np.fmax(confidence[found], best[found]))
        best[rows] = acc
    return best


def profit_efficiency(responders, customers, margin: float, contact_cost: float):
    """(margin × responders − contact cost × contacts) / (contact cost × contacts).

    How many times the contact cost comes back (0 = break even). It equals margin / cost ×
    confidence − 1, so it orders rules as confidence (and lift) do; it says whether contacting them
    pays, and by how much.
    """
    r = np.asarray(responders, dtype="float64")
    c = np.asarray(customers, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return (margin * r - contact_cost * c) / (contact_cost * c)


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
class TriggerMiner:
    """Association rules ``conditions → outcome``, pruned and ranked.

    Parameters
    ----------
    max_conditions : int
        Conditions per rule (at most one per column).
    min_support : float
        Minimum share of all rows that meet the conditions *and* have the outcome (mlxtend's support).
    min_lift : float
        Rules below this lift are dropped.
    min_improvement : float
        A rule with more conditions is kept only if its confidence beats each rule made of a part of
        its conditions by this relative margin (redundant supersets are pruned).
    alpha : float
        ... and if it is significantly better than the best of them: a one-sided binomial test against
        that confidence (against the base rate for a one-condition rule), with the false discovery rate
        over all mined rules held at ``alpha`` (Benjamini–Hochberg), since thousands of rules are tested.
    margin, contact_cost : float, optional
        Profit of one responder and cost of one contact; given both, rules are ranked by profit
        efficiency, otherwise by lift.
    bins, cuts, closed, max_categories
        How numeric columns are cut (see :class:`Discretiser`).
    algorithm : {"eclat", "fpgrowth"}
        The search: carsight's depth-first search over the positive rows' bit sets, or mlxtend's
        FP-growth (the same rules; it also mines the sets without the outcome, so it is slower).

    Attributes
    ----------
    rules_ : DataFrame
        The kept rules, best first: ``RULE_COLUMNS`` plus ``n_conditions``, ``representative`` (the rule
        overlaps no better-ranked representative rule by more than half its customers) and, for those,
        ``union_customers`` / ``union_responders`` of representative rules 1..this together.
    n_mined_ : int
        Rules before pruning.
    base_rate_, n_rows_, n_positive_ : the outcome's rate and counts.
    discretiser_ : the fitted :class:`Discretiser`.
    """

    def __init__(
        self,
        max_conditions: int = 3,
        min_support: float = 0.01,
        min_lift: float = 1.2,
        min_improvement: float = 0.05,
        alpha: float = 0.05,
        margin: float | None = None,
        contact_cost: float | None = None,
        bins: int = 4,
        cuts: dict | None = None,
        closed: str | dict = "auto",
        max_categories: int = 50,
        algorithm: str = "eclat",
    ):
        self.max_conditions = max_conditions
        self.min_support = min_support
        self.min_lift = min_lift
        self.min_improvement = min_improvement
        self.alpha = alpha
        self.margin = margin
        self.contact_cost = contact_cost
        self.bins = bins
        self.cuts = cuts
        self.closed = closed
        self.max_categories = max_categories
        self.algorithm = algorithm

    def _check(self) -> None:
        if int(self.max_conditions) < 1:
            raise InputError(f"{self.max_conditions} conditions", column="max_conditions", expected="at least 1")
        if not 0 < float(self.min_support) <= 1:
            raise InputError(f"min_support {self.min_support}", column="min_support", expected="0 < s ≤ 1")
        if (self.margin is None) != (self.contact_cost is None):
            raise InputError(
                "give both the margin and the contact cost, or neither",
                column="margin" if self.margin is None else "contact_cost",
            )
        if self.algorithm not in ALGORITHMS:
            raise InputError(f"algorithm '{self.algorithm}'", column="algorithm", expected=" or ".join(ALGORITHMS))
        if self.contact_cost is not None and float(self.contact_cost) <= 0:
            raise InputError(f"contact cost {self.contact_cost}", column="contact_cost", expected="a positive cost")

    @property
    def ranks_by_profit(self) -> bool:
        """Whether rules are ranked by profit efficiency (a margin and a contact cost are set)."""
        return self.margin is not None and self.contact_cost is not None

    def fit(self, X: pd.DataFrame, y) -> TriggerMiner:
        """Discretise ``X``, mine, prune and rank. ``y`` is 0/1 (or bool), one per row."""
        self._check()
        target = np.asarray(y, dtype="float64")
        if len(target) != len(X):
            raise InputError(f"{len(target)} outcomes for {len(X)} rows", column="target")
        if np.isnan(target).any():
            raise InputError("the outcome is missing in some rows", column="target", expected="0 or 1 in every row")
        target = target.astype(bool)
        n, positives = len(target), int(target.sum())
        if positives == 0:
            raise InputError("no row has the outcome", column="target", expected="at least one positive row")
        if positives == n:
            raise InputError("every row has the outcome: nothing to tell apart", column="target")
        self.discretiser_ = Discretiser(self.bins, self.cuts, self.closed, self.max_categories).fit(X)
        items = self.discretiser_.transform(X)
        conds = self.discretiser_.conditions_
        col_index = {c: i for i, c in enumerate(self.discretiser_.columns_)}
        groups = np.array([col_index[c.column] for c in conds], dtype=np.int64)
        mine = _mine_fpgrowth if self.algorithm == "fpgrowth" else _mine
        sets, customers, responders = mine(items, groups, target, int(self.max_conditions), float(self.min_support))
        self.n_rows_, self.n_positive_ = n, positives
        self.base_rate_ = positives / n
        self.n_conditions_ = len(conds)
        self.n_mined_ = len(sets)
        self.itemsets_, self.customers_, self.responders_ = sets, customers, responders
        keep = self._pruned(sets, customers, responders)
        kept = self._table(sets[keep], customers[keep], responders[keep])
        key = "profit_efficiency" if self.ranks_by_profit else "lift"
        kept = kept.sort_values(
            [key, "responders", "n_conditions", "conditions"], ascending=[False, False, True, True], kind="stable"
        ).reset_index(drop=True)
        self.rules_ = self._distinct_and_representative(kept, items, target)
        return self

    @property
    def mined_(self) -> pd.DataFrame:
        """Every mined rule before pruning, with its numbers (``itemset`` holds the condition indices)."""
        return self._table(self.itemsets_, self.customers_, self.responders_)

    def _table(self, sets: np.ndarray, customers: np.ndarray, responders: np.ndarray) -> pd.DataFrame:
        texts = self.discretiser_.condition_texts_
        itemsets = _tuples(sets)
        n = self.n_rows_
        out = pd.DataFrame({"itemset": itemsets, "customers": customers, "responders": responders})
        out["conditions"] = [JOIN.join(texts[i] for i in s) for s in itemsets]
        out["n_conditions"] = [len(s) for s in itemsets]
        out["coverage"] = out.customers / n
        out["support"] = out.responders / n
        out["confidence"] = out.responders / out.customers
        out["lift"] = out.confidence / self.base_rate_
        if self.ranks_by_profit:
            out["profit_efficiency"] = profit_efficiency(
                out.responders, out.customers, float(self.margin), float(self.contact_cost)
            )
        else:
            out["profit_efficiency"] = np.nan
        return out

    def _pruned(self, sets: np.ndarray, customers: np.ndarray, responders: np.ndarray) -> np.ndarray:
        """Which mined rules to keep.

        Lift at least ``min_lift``; better than every rule made of a part of their conditions by
        ``min_improvement``; and significantly so (false discovery rate).
        """
        from scipy.stats import binom

        if not len(sets):
            return np.zeros(0, dtype=bool)
        confidence = responders / customers
        lift = confidence / self.base_rate_
        best = best_part_confidence(sets, confidence, self.n_conditions_)
        better = np.isnan(best) | (confidence >= (1.0 + self.min_improvement) * np.nan_to_num(best))
        reference = np.fmax(np.nan_to_num(best), self.base_rate_)
        # P(at least this many responders | the confidence of the best part, or the base rate).
        p_value = binom.sf(responders - 1, customers, reference)
        return (lift >= self.min_lift) & better & _discoveries(p_value, float(self.alpha))

    def _distinct_and_representative(self, kept: pd.DataFrame, items: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Drop duplicate rules and mark the representative ones.

        Drops rules that select exactly the same rows as a better-ranked one
        (days_since_test_drive<=90 and test_drives_90d>=1 are one rule), and marks the
        representative rules: in rank order, a rule whose customers overlap each representative rule
        before it by at most ``REPRESENTATIVE_OVERLAP`` of its own customers. For those,
        ``union_customers`` / ``union_responders`` count the rows of representative rules 1..this
        together (contacting them all, each customer once).
        """
        columns = [*RULE_COLUMNS, "n_conditions", "representative", "union_customers", "union_responders"]
        if kept.empty:
            empty = pd.array([], dtype="Int64")
            extra = {"representative": np.zeros(0, dtype=bool), "union_customers": empty, "union_responders": empty}
            return kept.assign(**extra)[columns]
        every = _pack(items)
        positive = _pack(y[:, None])[0]
        bits = np.stack([np.bitwise_and.reduce(every[list(s)], axis=0) for s in kept.itemset])
        seen: set[bytes] = set()
        distinct = np.ones(len(kept), dtype=bool)
        for i, row in enumerate(bits):
            key = row.tobytes()
            distinct[i] = key not in seen
            seen.add(key)
        kept, bits = kept[distinct].reset_index(drop=True), bits[distinct]
        sizes = kept.customers.to_numpy()
        chosen: list[int] = []
        representative = np.zeros(len(kept), dtype=bool)
        union = np.zeros_like(bits[0])
        union_customers = np.full(len(kept), np.nan)
        union_responders = np.full(len(kept), np.nan)
        for i in range(len(kept)):
            if chosen and _popcount(bits[chosen] & bits[i]).max() > REPRESENTATIVE_OVERLAP * sizes[i]:
                continue
            chosen.append(i)
            representative[i] = True
            union |= bits[i]
            union_customers[i] = _popcount(union)
            union_responders[i] = _popcount(union & positive)
        kept = kept.assign(
            representative=representative,
            union_customers=pd.array(union_customers, dtype="Int64"),
            union_responders=pd.array(union_responders, dtype="Int64"),
        )
        return kept[columns]

    def everyone(self) -> dict:
        """The reference of contacting every row.

        Customers, responders, confidence and (with a margin and cost) profit efficiency.
        """
        eff = (
            float(profit_efficiency(self.n_positive_, self.n_rows_, float(self.margin), float(self.contact_cost)))
            if self.ranks_by_profit
            else float("nan")
        )
        return {
            "customers": self.n_rows_,
            "responders": self.n_positive_,
            "confidence": self.base_rate_,
            "profit_efficiency": eff,
        }

    def select(self, X: pd.DataFrame, conditions: str) -> np.ndarray:
        """Rows of ``X`` that meet a rule's conditions."""
        return rule_mask(X, conditions)


def _discoveries(p_values: np.ndarray, rate: float) -> np.ndarray:
    """Benjamini–Hochberg: which of these tests are discoveries at false discovery rate ``rate``."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    passed = p_values[order] <= rate * np.arange(1, m + 1) / m
    out = np.zeros(m, dtype=bool)
    if passed.any():
        out[order[: int(np.flatnonzero(passed)[-1]) + 1]] = True
    return out


def triggers_on_table(
    frame: pd.DataFrame,
    target: str,
    positive: str | None = None,
    *,
    exclude: list[str] | tuple[str, ...] = (),
    file: str | None = None,
    **params,
) -> TriggerMiner:
    """Mine triggers for ``target`` on a table as read from a file.

    ``target`` is a yes/no column, or ``positive`` names the value that counts; rows without an
    outcome are left out. What ``carsight triggers`` runs.
    """
    if frame.empty:
        raise InputError("the table has no data rows", file=file)
    for name in [target, *exclude]:
        if name not in frame.columns:
            raise InputError(
                "no such column", file=file, column=name, expected="one of: " + ", ".join(map(str, frame.columns))
            )
    try:
        y = parse_target(frame[target], positive, column=target)
    except InputError as exc:
        exc.file = file
        raise
    keep = y.notna().to_numpy()
    if not keep.any():
        raise InputError("no row has an outcome value", file=file, column=target)
    data = frame.loc[keep].drop(columns=[target, *exclude]).reset_index(drop=True)
    outcome = y[keep].to_numpy()
    if outcome.sum() == 0:
        raise InputError(
            "no positive rows", file=file, column=target, expected="some rows with the outcome (see --positive)"
        )
    try:
        return TriggerMiner(**params).fit(data, outcome)
    except InputError as exc:
        exc.file = exc.file or file
        raise

"""RFM per customer as of a date, as one Ibis expression that runs inside the warehouse.

Rules (also in docs/customers.md):

- Only rows with ``purchase_date < as_of`` count.
- A *purchase* is a row with ``amount > 0``. Refunds (``amount < 0``) lower the customer's
  monetary total but are not purchases; zero-amount rows (free transfers, corrections) count for
  nothing. The monetary total is net of refunds and floored at 0. A customer with no positive
  purchase before ``as_of`` gets no RFM row.
- Quintile scores 1–5 use the *mid-rank* of each value (ties averaged): the fraction of customers
  strictly below a value plus half of those tied with it. Identical values therefore always share
  a score, and a block of ties sits at the score of its middle (when 80% of customers bought once,
  they all get F = 3, not a mix of 1–4 decided by row order). Higher is better; for recency fewer
  days is better.
- ``rfm_score`` = (R + F + M − 3) / 12 × 100, in 0–100. Grades by :class:`GradeCutoffs`.
- Named segments, first rule that matches wins, with FM = (F + M) / 2:
  New (R ≥ 4 and exactly one purchase) · Champions (R ≥ 4, FM ≥ 4) · Loyal (R ≥ 3, FM ≥ 3) ·
  Potential loyalist (R ≥ 3) · Can't lose (R ≤ 2, FM ≥ 4) · At risk (R ≤ 2, FM ≥ 3) ·
  Hibernating (R = 2) · Lost (R = 1).
- Dealer groups: VIP (grade Very Strong) · New (named segment New) · Churn risk (R ≤ 2) · Regular.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from carsight.errors import InputError

GRADES = ("Very Strong", "Strong", "Normal", "Weak")
NAMED_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)
VIP, REGULAR, NEW, CHURN_RISK = "VIP", "Regular", "New", "Churn risk"
GROUPS = (VIP, REGULAR, NEW, CHURN_RISK)
RFM_COLUMNS = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_avg",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "grade",
    "named_segment",
    "group",
)


@dataclass(frozen=True)
class GradeCutoffs:
    """Lower bounds of the composite RFM score (0–100) for each grade; below ``normal`` is Weak."""

    very_strong: float = 90.0
    strong: float = 70.0
    normal: float = 40.0

    def __post_init__(self) -> None:
        """Check that the cut-offs are in order between 0 and 100."""
        if not (100 >= self.very_strong > self.strong > self.normal >= 0):
            raise InputError(
                f"grade cut-offs {self.very_strong}/{self.strong}/{self.normal} are not in order",
                column="cutoffs",
                expected="100 ≥ very_strong > strong > normal ≥ 0",
            )


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"as-of date '{value}' is not a date", column="as_of", expected="YYYY-MM-DD") from exc


def _quintile(value: ir.NumericColumn) -> ir.IntegerColumn:
    """Score 1–5 from the mid-rank of ``value`` (ties share a score; see the module docstring)."""
    window = ibis.window(order_by=value)
    below = ibis.rank().over(window)  # 0-based min rank = number of values strictly below
    at_or_below = ibis.cume_dist().over(window) * value.count().over(ibis.window())
    n = value.count().over(ibis.window())
    score = ((below + at_or_below) / (2 * n) * 5).floor() + 1
    return ibis.least(score, 5).cast("int64")


def rfm_table(
    purchases: ir.Table,
    as_of: dt.date | str,
    *,
    monetary: str = "total",
    cutoffs: GradeCutoffs | None = None,
) -> ir.Table:
    """RFM of every customer with a purchase before ``as_of``.

    Args:
        purchases: a table with ``customer_id``, ``purchase_date`` and ``amount`` (the warehouse's
            ``purchases`` table, or an ``ibis.memtable`` of a file).
        as_of: reference date; only purchases strictly before it count.
        monetary: ``"total"`` (net spend) or ``"average"`` (spend per purchase) drives the M score.
        cutoffs: grade cut-offs on the 0–100 score (default 90 / 70 / 40).

    Returns
    -------
        An unexecuted Ibis table, one row per customer, columns :data:`RFM_COLUMNS`.
    """
    if monetary not in ("total", "average"):
        raise InputError(f"unknown monetary measure '{monetary}'", column="monetary", expected="total or average")
    missing = [c for c in ("customer_id", "purchase_date", "amount") if c not in purchases.columns]
    if missing:
        raise InputError(
            f"purchases lack column(s) {', '.join(missing)}", expected="customer_id, purchase_date, amount"
        )
    cutoffs = cutoffs or GradeCutoffs()
    as_of = _as_date(as_of)
    as_of_lit = ibis.literal(as_of, type="date")

    t = purchases.filter(
        purchases.purchase_date.cast("date") < as_of_lit,
        purchases.customer_id.notnull(),
        purchases.amount.notnull(),
    )
    amount = t.amount.cast("float64")
    is_purchase = amount > 0
    per_customer = t.group_by("customer_id").aggregate(
        last_date=is_purchase.ifelse(t.purchase_date.cast("date"), ibis.null("date")).max(),
        frequency=is_purchase.sum().cast("int64"),
        net=amount.sum(),
    )
    per_customer = per_customer.filter(per_customer.frequency > 0)
    c = per_customer
    base = c.select(
        "customer_id",
        recency_days=as_of_lit.delta(c.last_date, unit="day").cast("int64"),
        frequency=c.frequency,
        monetary_total=ibis.greatest(c.net, 0.0),
        monetary_avg=ibis.greatest(c.net, 0.0) / c.frequency,
    )
    m_source = base.monetary_total if monetary == "total" else base.monetary_avg
    scored = base.mutate(
        r_score=_quintile(-base.recency_days),
        f_score=_quintile(base.frequency),
        m_score=_quintile(m_source),
    )
    scored = scored.mutate(
        rfm_score=((scored.r_score + scored.f_score + scored.m_score - 3) / 12 * 100).round(1),
    )
    s = scored
    grade = ibis.cases(
        (s.rfm_score >= cutoffs.very_strong, GRADES[0]),
        (s.rfm_score >= cutoffs.strong, GRADES[1]),
        (s.rfm_score >= cutoffs.normal, GRADES[2]),
        else_=GRADES[3],
    )
    fm = (s.f_score + s.m_score) / 2
    named = ibis.cases(
        ((s.r_score >= 4) & (s.frequency == 1), "New"),
        ((s.r_score >= 4) & (fm >= 4), "Champions"),
        ((s.r_score >= 3) & (fm >= 3), "Loyal"),
        (s.r_score >= 3, "Potential loyalist"),
        (fm >= 4, "Can't lose"),
        (fm >= 3, "At risk"),
        (s.r_score == 2, "Hibernating"),
        else_="Lost",
    )
    s = s.mutate(grade=grade, named_segment=named)
    group = ibis.cases(
        (s.grade == GRADES[0], VIP),
        (s.named_segment == "New", NEW),
        (s.r_score <= 2, CHURN_RISK),
        else_=REGULAR,
    )
    return s.mutate(group=group).select(*RFM_COLUMNS)

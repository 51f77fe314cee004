"""What the recommender reads.

The purchases, line-up, customers, leads and segments as pandas frames (:class:`RecData`), read from
the warehouse or from files, and cut at a date so nothing from the future leaks in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from carsight.errors import DataTooThinError, InputError

# The columns of a customer's purchases, profile and leads that the recommender reads.
PURCHASE_COLUMNS = ("customer_id", "purchase_date", "model", "amount", "payment_type")
CUSTOMER_COLUMNS = ("customer_id", "birth_year", "gender", "region", "channel")
LEAD_COLUMNS = ("customer_id", "lead_date", "lead_type", "model")


@dataclass
class RecData:
    """The tables a recommender reads, as pandas frames (only ``purchases`` is required).

    purchases: customer_id, purchase_date, model, amount (payment_type optional).
    vehicles: model, brand, body_type, powertrain, base_price, launch_month, discontinued_month.
    customers: customer_id, birth_year, gender, region, channel.
    leads: customer_id, lead_date, lead_type, model.
    segments: customer_id → segment_id (as of the date the recommendations are for).
    """

    purchases: pd.DataFrame
    vehicles: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    segments: pd.Series | None = None

    def __post_init__(self) -> None:
        """Check the purchases and put every table in the form the recommender reads."""
        p = self.purchases
        missing = [c for c in ("customer_id", "purchase_date", "model", "amount") if c not in p.columns]
        if missing:
            raise InputError(
                f"transactions lack column(s) {', '.join(missing)}",
                expected="customer_id, purchase_date, model, amount",
            )
        p = p.loc[(p["amount"].astype(float) > 0) & p["model"].notna()].copy()
        p["customer_id"] = p["customer_id"].astype(str)
        p["purchase_date"] = pd.to_datetime(p["purchase_date"]).astype("datetime64[ns]")
        p["model"] = p["model"].astype(str)
        # Ordered by what the rows hold, not by how they were read: a customer's two purchases on one day
        # keep one order whether all customers are read at once or a distributed group's are.
        order = ["purchase_date", "customer_id", "model", "amount"]
        self.purchases = p.sort_values(order, kind="stable").reset_index(drop=True)
        if self.customers is not None:
            c = self.customers.copy()
            if "customer_id" not in c.columns:  # already indexed by customer (dataclasses.replace)
                c = c.reset_index()
            c["customer_id"] = c["customer_id"].astype(str)
            self.customers = c.drop_duplicates("customer_id").set_index("customer_id")
        if self.leads is not None:
            leads = self.leads.dropna(subset=["customer_id", "model"]).copy()
            leads["customer_id"] = leads["customer_id"].astype(str)
            leads["lead_date"] = pd.to_datetime(leads["lead_date"]).astype("datetime64[ns]")
            self.leads = leads
        if self.segments is not None:
            self.segments = self.segments.copy()
            self.segments.index = self.segments.index.astype(str)

    def before(self, as_of: dt.date) -> RecData:
        """The same data as it stood on ``as_of``.

        Purchases and leads from that day on left out, so a back-dated run learns nothing from its
        own future.
        """
        cut = pd.Timestamp(as_of)
        leads = None if self.leads is None else self.leads[self.leads["lead_date"] < cut]
        return replace(self, purchases=self.purchases[self.purchases["purchase_date"] < cut], leads=leads)

    @classmethod
    def from_warehouse(
        cls,
        wh,
        segments: pd.Series | None = None,
        *,
        sample: Callable[[ir.Column], ir.BooleanValue] | None = None,
    ) -> RecData:
        """The recommender's tables read from the warehouse (only purchases are required).

        Parameters
        ----------
        wh : Warehouse
            The warehouse to read.
        segments : pandas.Series, optional
            Each customer's segment id, by customer id.
        sample : callable, optional
            A condition on the customer id (:func:`carsight.customers.features.customer_sample`):
            only the purchases, customer rows and leads of the customers it holds for are read (the
            line-up is read whole). None reads every customer.
        """
        from carsight.warehouse import schema as S

        def frame(table, columns, *, per_customer=True):
            if not wh.has_table(table.name):
                return None
            t_ = wh.table(table.name)
            if per_customer and sample is not None:
                t_ = t_.filter(sample(t_.customer_id))
            if int(t_.count().to_pyarrow().as_py()) == 0:
                return None
            return t_.select(*[c for c in columns if c in t_.columns]).to_pandas()

        purchases = frame(S.PURCHASES, PURCHASE_COLUMNS)
        if purchases is None:
            raise DataTooThinError("there are no purchases in the warehouse to learn recommendations from")
        return cls(
            purchases=purchases,
            vehicles=frame(S.VEHICLES, S.VEHICLES.column_names, per_customer=False),
            customers=frame(S.CUSTOMERS, CUSTOMER_COLUMNS),
            leads=frame(S.LEADS, LEAD_COLUMNS),
            segments=segments,
        )


def profile_field(ev: pd.DataFrame, customers: pd.DataFrame | None, name: str) -> pd.Series:
    """A profile field per event: typed in on the event (a new customer) or from the customers table."""
    values = pd.Series(np.nan, index=ev.index, dtype=object)
    if customers is not None and name in customers:
        values = ev["customer_id"].map(customers[name]).astype(object)
    if name in ev:
        values = ev[name].astype(object).where(ev[name].notna(), values)
    return values.where(values.notna(), None)


def month_index(values) -> np.ndarray:
    """Months since year 0 (year × 12 + month − 1), for month arithmetic on arrays."""
    ts = pd.DatetimeIndex(pd.to_datetime(values))
    return (ts.year * 12 + ts.month - 1).to_numpy()

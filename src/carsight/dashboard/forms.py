"""The new-customer form of the customer desk.

Validation (one message per field, shown under the input), the segment and recommendations for the
customer, and saving into ``customers`` through a short-lived write connection.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.warehouse import schema as S

MIN_AGE = 16
MAX_AGE = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+\-() ]{7,20}$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")


@dataclass
class FormResult:
    """The checked form: clean values, the profile for the models, and an error per field."""

    values: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # column -> message

    @property
    def ok(self) -> bool:
        """Whether the form has no errors."""
        return not self.errors


def validate(raw: dict, lang: str, *, today: dt.date | None = None) -> FormResult:
    """Check the form's raw strings.

    Typed ``values`` (columns of ``customers``), the ``profile`` the segmenter takes, or one message
    per field in ``errors``.
    """
    today = today or dt.date.today()
    out = FormResult()
    err = out.errors

    def msg(key: str, **values) -> str:
        return t(f"dash.form.error.{key}", lang, **values)

    customer_id = str(raw.get("customer_id") or "").strip()
    if not customer_id:
        err["customer_id"] = msg("required")
    elif not _ID.match(customer_id):
        err["customer_id"] = msg("customer_id")
    name = str(raw.get("name") or "").strip()
    if not name:
        err["name"] = msg("required")
    gender = raw.get("gender") or None
    if gender is not None and gender not in S.GENDERS:
        err["gender"] = msg("choice", options=", ".join(S.GENDERS))
    birth_year = None
    age_text = str(raw.get("age") or "").strip()
    if age_text:
        try:
            age = float(age_text)
        except ValueError:
            err["age"] = msg("age_format")
        else:
            if not (MIN_AGE <= age <= MAX_AGE) or age != int(age):
                err["age"] = msg("age", low=MIN_AGE, high=MAX_AGE)
            else:
                birth_year = today.year - int(age)
    email = str(raw.get("email") or "").strip() or None
    if email and not _EMAIL.match(email):
        err["email"] = msg("email")
    phone = str(raw.get("phone") or "").strip() or None
    if phone and not _PHONE.match(phone):
        err["phone"] = msg("phone")
    out.values = {
        "customer_id": customer_id,
        "name": name,
        "gender": gender,
        "birth_year": birth_year,
        "region": (str(raw.get("region") or "").strip() or None),
        "join_date": raw.get("join_date") or today,
        "channel": (str(raw.get("channel") or "").strip() or None),
        "email": email,
        "phone": phone,
        "marketing_opt_in": bool(raw.get("marketing_opt_in")),
    }
    # What the segmenter and recommender take (carsight.customers.segments_desk.SEGMENT_FIELDS).
    out.profile = {
        "age": age_text or None,
        "gender": gender,
        "region": out.values["region"],
        "channel": out.values["channel"],
        "interest_model": (str(raw.get("interest_model") or "").strip() or None),
        "budget": (str(raw.get("budget") or "").strip() or None),
        "payment_type": raw.get("payment_type") or None,
    }
    return out


def as_frame(values: dict) -> pd.DataFrame:
    """The form's values as a one-row frame of the customers table."""
    return pd.DataFrame([{c: values.get(c) for c in S.CUSTOMERS.column_names}])


def save(location: str, values: dict, lang: str) -> str:
    """Insert one new customer with a write connection held only for the write.

    An id that is already taken is refused (a new-customer form must never overwrite someone else);
    a warehouse another process writes raises :class:`~carsight.errors.WarehouseError` after a few
    seconds (a pipeline run holds it for minutes: the form says so rather than hang). Closing the
    connection publishes the saved customer to the pages.
    """
    from carsight.warehouse import Warehouse

    wh = Warehouse(location, wait_s=3)
    try:
        table = wh.table(S.CUSTOMERS.name)
        taken = int(table.filter(table.customer_id == values["customer_id"]).count().execute())
        if taken:
            raise InputError(t("dash.form.error.taken", lang, id=values["customer_id"]), column="customer_id")
        result = wh.upsert(S.CUSTOMERS, as_frame(values))
    finally:
        wh.close()
    return "inserted" if result.inserted else "unchanged"

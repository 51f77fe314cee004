"""Columns people expect carsight to work out from what their export has.

A birth year from 생년월일 or an age, a region from an address, a customer id from the best id-like
column (아이디, e-mail, phone) when there is no customer number, a key made from a row's content when a
table's own number is missing, segment and body type from ``준대형 SUV``, payment words outside the
schema's types kept instead of rejected, phone numbers in one form.

Helper columns (``__birth_date__``, ``__age__``, …) come from ``[pseudo]`` in ``synonyms.toml``; they
are read, turned into the table's columns, and never stored. Every derivation is noted for the load
report.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.i18n import t
from carsight.ingest import clean as C
from carsight.ingest.headers import HeaderMatch, normalise_value, value_lookup
from carsight.warehouse import schema as S

BIRTH_DATE, AGE, ADDRESS, LOGIN = "__birth_date__", "__age__", "__address__", "__login__"
EMAIL, PHONE, VEHICLE_CLASS, ECO = "__email__", "__phone__", "__vehicle_class__", "__eco__"
PSEUDO_TARGETS = {BIRTH_DATE, AGE, ADDRESS, LOGIN, EMAIL, PHONE, VEHICLE_CLASS, ECO}
PENDING_KEY = "\x00pending"

# Columns a content key is made of, per table without its own number: what identifies the event,
# never the measures a corrected file may change (a corrected amount updates the row it corrects).
CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    S.PURCHASES.name: ("customer_id", "purchase_date", "model"),
    S.LEADS.name: ("customer_id", "lead_date", "lead_type", "model"),
    S.SERVICE_VISITS.name: ("customer_id", "visit_date", "service_type", "model"),
    S.CONSULTATIONS.name: ("customer_id", "consulted_at", "channel", "text"),
}
# Id-like columns, best first, when a table needs a customer id and the file has no customer number.
_ID_SOURCES = ((LOGIN, LOGIN), ("email", EMAIL), ("phone", PHONE))

# 시/도 as the demo and Korean CRM exports write them, with the short forms addresses use.
_SIDO = {
    "서울특별시": ("서울", "서울시", "서울특별시"),
    "부산광역시": ("부산", "부산시", "부산광역시"),
    "대구광역시": ("대구", "대구시", "대구광역시"),
    "인천광역시": ("인천", "인천시", "인천광역시"),
    "광주광역시": ("광주", "광주시", "광주광역시"),
    "대전광역시": ("대전", "대전시", "대전광역시"),
    "울산광역시": ("울산", "울산시", "울산광역시"),
    "세종특별자치시": ("세종", "세종시", "세종특별자치시"),
    "경기도": ("경기", "경기도"),
    "강원특별자치도": ("강원", "강원도", "강원특별자치도"),
    "충청북도": ("충북", "충청북도"),
    "충청남도": ("충남", "충청남도"),
    "전북특별자치도": ("전북", "전라북도", "전북특별자치도"),
    "전라남도": ("전남", "전라남도"),
    "경상북도": ("경북", "경상북도"),
    "경상남도": ("경남", "경상남도"),
    "제주특별자치도": ("제주", "제주도", "제주특별자치도"),
}
_SIDO_LOOKUP = {alias: name for name, aliases in _SIDO.items() for alias in aliases}
_US_STATE = re.compile(r",\s*([A-Z]{2})\s+\d{5}(?:-\d{4})?\s*$")


@dataclass
class Derivation:
    """What to work out for one file, and counts gathered while doing it (for the notes)."""

    table: str = ""
    lang: str = "ko"
    provides: set[str] = field(default_factory=set)
    customer_id_from: str | None = None  # pseudo/canonical column holding the id
    customer_id_header: str = ""
    key_column: str | None = None
    key_from: tuple[str, ...] | None = None
    age_header: str = ""
    address_header: str = ""
    class_header: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # derived column -> file header it came from

    def count(self, name: str, n: int) -> None:
        """Count ``n`` values derived for ``name``."""
        self.counts[name] = self.counts.get(name, 0) + int(n)

    @property
    def notes(self) -> list[str]:
        """What the loader assumed, as sentences for the load report."""
        lang, out = self.lang, []
        if self.customer_id_from:
            out.append(t("ingest.assume.customer_id_from", lang, header=self.customer_id_header))
        if self.age_header:
            out.append(t("ingest.assume.birth_year_from_age", lang, header=self.age_header, date=_dt.date.today()))
        if self.address_header:
            missing = self.counts.get("address_missing", 0)
            out.append(t("ingest.assume.region_from_address", lang, header=self.address_header, missing=missing))
        if self.class_header:
            out.append(t("ingest.assume.body_from_class", lang, header=self.class_header))
        if self.counts.get("payment_other"):
            out.append(t("ingest.assume.payment_other", lang, count=self.counts["payment_other"]))
        return out


def plan(match: HeaderMatch, table: S.Table, headers: list[str], constants: dict, lang: str) -> Derivation:
    """Decide what this file needs worked out for ``table``."""
    present = set(match.columns.values())
    header_of = {column: header for header, column in match.columns.items()}
    names = set(table.column_names)
    d = Derivation(table=table.name, lang=lang)
    if "birth_year" in names and "birth_year" not in present:
        if BIRTH_DATE in present:
            d.provides.add("birth_year")
        elif AGE in present:
            d.provides.add("birth_year")
            d.age_header = header_of[AGE]
    if "region" in names and "region" not in present and ADDRESS in present:
        d.provides.add("region")
        d.address_header = header_of[ADDRESS]
    if "customer_id" in names and "customer_id" not in present and "customer_id" not in constants:
        for canonical, pseudo in _ID_SOURCES:
            source = canonical if canonical in present and canonical in names else pseudo
            if source in present:
                d.customer_id_from, d.customer_id_header = source, header_of[source]
                d.provides.add("customer_id")
                break
    if VEHICLE_CLASS in present and ({"segment", "body_type"} & names) - present:
        d.provides |= ({"segment", "body_type"} & names) - present
        d.class_header = header_of[VEHICLE_CLASS]
    if "payment_type" in present and "payment_detail" in names:
        d.provides.add("payment_detail")  # filled for payment words outside the schema's types
    if ECO in present and "eco_friendly" in names and "eco_friendly" not in present:
        d.provides.add("eco_friendly")
    if len(table.keys) == 1 and table.name in CONTENT_KEYS:
        key = table.keys[0]
        if key not in present and key not in constants:
            have = present | d.provides | set(constants)
            parts = tuple(c for c in CONTENT_KEYS[table.name] if c in have)
            if parts:
                d.key_column, d.key_from = key, parts
                d.provides.add(key)
    for column in d.provides:
        source = {"birth_year": BIRTH_DATE if BIRTH_DATE in present else AGE, "region": ADDRESS}.get(column)
        if column == "customer_id":
            source = d.customer_id_from
        elif column in ("segment", "body_type"):
            source = VEHICLE_CLASS
        elif column == "eco_friendly":
            source = ECO
        if source in header_of:
            d.headers[column] = header_of[source]
    return d


def apply(out: pd.DataFrame, raw: pd.DataFrame, d: Derivation) -> tuple[pd.DataFrame, dict[str, str]]:
    """Work out the planned columns of one chunk (``out``: canonical and helper columns of the file)."""
    if "birth_year" in d.provides:
        if BIRTH_DATE in out:
            dates = C.parse_dates(out[BIRTH_DATE])
            out["birth_year"] = dates.dt.year.astype("Float64")
            d.count("birth_unparsed", int((dates.isna() & out[BIRTH_DATE].notna()).sum()))
        else:
            age = C.clean_number(out[AGE], dash_is_zero=False)
            out["birth_year"] = (_dt.date.today().year - age).where(age.between(0, 120))
    if "region" in d.provides:
        region = out[ADDRESS].map(region_of_address, na_action="ignore")
        d.count("address_missing", int((region.isna() & out[ADDRESS].notna()).sum()))
        out["region"] = region
    if "customer_id" in d.provides:
        out["customer_id"] = _id_values(out[d.customer_id_from], d.customer_id_from)
    if "segment" in d.provides or "body_type" in d.provides:
        split = out[VEHICLE_CLASS].map(split_vehicle_class, na_action="ignore")
        if "segment" in d.provides:
            out["segment"] = split.map(lambda p: p[0], na_action="ignore")
        if "body_type" in d.provides:
            out["body_type"] = split.map(lambda p: p[1], na_action="ignore")
    if "eco_friendly" in d.provides:
        out["eco_friendly"] = out[ECO]
    if "payment_type" in out and "payment_type" in S.get_table(d.table).column_names:
        out = _payment_other(out, d)
    if "phone" in out:
        out["phone"] = out["phone"].map(normalise_phone, na_action="ignore")
    if d.key_column:
        out[d.key_column] = PENDING_KEY
    out = out.drop(columns=[c for c in out.columns if c in PSEUDO_TARGETS])
    return out, dict(d.headers)


def content_keys(frame: pd.DataFrame, table: S.Table, d: Derivation, lang: str) -> tuple[pd.DataFrame, list[str]]:
    """Deterministic keys for a table without its own number.

    A hash of the identifying columns (:data:`CONTENT_KEYS`) plus a running number for identical
    rows, in file order, so re-loading the same file finds the same keys and a corrected measure
    updates its row.
    """
    assert d.key_column and d.key_from
    parts = [frame[c].astype("string").fillna("") for c in d.key_from]
    text = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
    digest = text.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:16])
    occurrence = digest.groupby(digest).cumcount() + 1
    frame = frame.copy()
    frame[d.key_column] = (digest + "-" + occurrence.astype(str)).astype(pd.StringDtype("pyarrow"))
    note = t("ingest.assume.derived_key", lang, column=d.key_column, columns=", ".join(d.key_from))
    return frame, [note]


# ---- single values -----------------------------------------------------------------------------------
def region_of_address(address: str) -> str | None:
    """The region of an address.

    The 시/도 of a Korean address (``서울 강남구 …`` → ``서울특별시``), the state of a US address (``…, CA
    94105`` → ``CA``), else None.
    """
    text = str(address).strip()
    for token in re.split(r"[\s,]+", text)[:3]:
        if token in _SIDO_LOOKUP:
            return _SIDO_LOOKUP[token]
    if m := _US_STATE.search(text):
        return m.group(1)
    return None


def split_vehicle_class(text: str) -> tuple[str | None, str | None]:
    """(segment, body type) from a class label.

    ``준대형 SUV`` → (준대형, suv); ``SUV`` → (None, suv); ``중형 세단`` → (중형, sedan); ``준중형`` → (준중형, None).
    """
    bodies = value_lookup("body_type")
    segment, body = [], None
    for token in str(text).split():
        kind = bodies.get(normalise_value(token))
        if kind and body is None:
            body = kind
        else:
            segment.append(token)
    return (" ".join(segment) or None), body


def normalise_phone(value: str) -> str | None:
    """Phone numbers in one form.

    Korean mobiles as ``010-1234-5678`` (from ``01012345678``, ``+82 10-1234-5678``,
    ``10-1234-5678`` typed as a number), other numbers as their digits.
    """
    digits = re.sub(r"\D", "", str(value))
    if not digits:
        return None
    if digits.startswith("82") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits.startswith("10"):
        digits = "0" + digits  # a leading zero lost to a number cell
    if len(digits) == 11 and digits.startswith("01"):
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits.startswith("01"):
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


def _id_values(values: pd.Series, source: str) -> pd.Series:
    if source in ("phone", PHONE):
        return values.map(normalise_phone, na_action="ignore")
    if source in ("email", EMAIL):
        return values.astype("string").str.strip().str.lower()
    return values.astype("string").str.strip()


def _payment_other(out: pd.DataFrame, d: Derivation) -> pd.DataFrame:
    """Payment words the schema does not list become ``other``.

    Words like 포인트, 상품권 or a bank's own name are kept in ``payment_detail``: a purchase is not
    refused for how it was paid.
    """
    lookup = value_lookup("payment_type")
    allowed = set(S.PAYMENT_TYPES)
    # Worked out once per distinct value: a column of millions of rows holds a handful of words.
    codes, uniques = pd.factorize(out["payment_type"], use_na_sentinel=True)
    text_u = pd.Series(uniques, dtype="object").astype("string").str.strip()
    known_u = text_u.map(lambda v: lookup.get(normalise_value(v)) or (v if v in allowed else None), na_action="ignore")
    other_u = (text_u.notna() & (text_u != "") & known_u.isna()).to_numpy(dtype=bool)
    other = pd.Series(np.append(other_u, False)[codes], index=out.index)
    if other.any():
        text = pd.Series(np.append(text_u.to_numpy(dtype=object), None)[codes], index=out.index, dtype="string")
        known = pd.Series(np.append(known_u.to_numpy(dtype=object), None)[codes], index=out.index, dtype="object")
        out["payment_detail"] = text.where(other)
        out["payment_type"] = known.where(~other, "other")
        d.count("payment_other", int(other.sum()))
    return out

"""Personal-data masks, as Ibis expressions, so they run where the data is read (in the warehouse).

What hq and agent users see instead of a customer's name, phone and e-mail: enough to tell customers
apart and to confirm one on the phone ("김**", "J. S.", "****5678", "j***@example.com"), never
enough to contact them. Addresses and birth dates never reach the warehouse: ingest keeps only the
시/도 (``region``) and the year (``birth_year``) of them (``__address__`` and ``__birth_date__`` in
``ingest/synonyms.toml``).
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir


def initials(name: ir.StringValue) -> ir.StringValue:
    """A name as initials: ``김철수`` → ``김**``; ``John Smith`` → ``J. S.``.

    A name of one word keeps its first character and stars for the rest (Korean names: the family
    name); a name of several words keeps the first letters of the first and last words.
    """
    name = name.strip()
    first = name.substr(0, 1)
    western = first + ". " + name.re_extract(r"\s(\S)\S*$", 1) + "."
    korean = first + ibis.literal("*").repeat(ibis.greatest(name.length() - 1, 1))
    return ibis.cases((name.length() == 0, name), (name.contains(" "), western), else_=korean)


def last_four(phone: ir.StringValue) -> ir.StringValue:
    """A phone number as its last four digits only: ``010-1234-5678`` → ``****5678``."""
    return "****" + phone.re_replace(r"[^0-9]", "").right(4)


def email_hint(email: ir.StringValue) -> ir.StringValue:
    """An e-mail address as its first letter and domain: ``jsmith@example.com`` → ``j***@example.com``."""
    email = email.strip()
    hint = email.substr(0, 1) + "***"
    return ibis.cases(
        (email.length() == 0, email), (email.contains("@"), hint + "@" + email.re_extract(r"@(.*)$", 1)), else_=hint
    )


# Which mask each kind of personal column gets.
MASKS: dict[str, Callable[[ir.StringValue], ir.StringValue]] = {
    "name": initials,
    "phone": last_four,
    "email": email_hint,
}

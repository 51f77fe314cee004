"""What one user may read: a role, the dealers it covers, and whether personal data is shown.

A :class:`Scope` is made once per request or session (from the user's record, or for the bootstrap
admin token and the local one-person mode) and handed to the one scoped reader, which applies its
row filter and column masks wherever data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "hq", "dealer", "agent")


@dataclass(frozen=True)
class Scope:
    """What one user may read.

    Attributes
    ----------
    user : str
        The user's name (``local`` in local one-person mode, ``bootstrap`` for CARSIGHT_API_TOKEN).
    role : str
        One of :data:`ROLES`.
    dealers : frozenset of str
        The dealer codes a ``dealer`` user covers (empty for the other roles).
    serving : str or None
        For an ``agent``: the customer being served, whose personal data is shown unmasked.
    """

    user: str
    role: str
    dealers: frozenset[str] = field(default_factory=frozenset)
    serving: str | None = None

    def __post_init__(self) -> None:
        """Refuse an unknown role, and a dealer user without a dealer code."""
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}: one of {', '.join(ROLES)}")
        if self.role == "dealer" and not self.dealers:
            raise ValueError("a dealer user needs at least one dealer code")

    @property
    def all_dealers(self) -> bool:
        """Whether every dealer's rows are in scope (every role but ``dealer``)."""
        return self.role != "dealer"

    def sees_dealer(self, dealer_code: str | None) -> bool:
        """Whether a row of ``dealer_code`` is in scope.

        None is a row of no dealer, seen only by the roles that cover every dealer. The scoped reader
        applies the same rule as an Ibis filter.
        """
        return self.all_dealers or (dealer_code is not None and dealer_code in self.dealers)

    @property
    def masks_personal_data(self) -> bool:
        """Whether names, phones, e-mails and addresses are masked (hq and agent)."""
        return self.role in ("hq", "agent")


LOCAL = Scope(user="local", role="admin")
"""The scope of local one-person mode (no users exist and the bind is loopback)."""

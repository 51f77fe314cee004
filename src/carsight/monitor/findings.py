"""What a check says about one subject: ok, an alert, or skipped.

An alert has a severity and a plain message in Korean and English from the catalogue; skipped means
nothing to look at yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carsight.i18n import t

OK, ALERT, SKIPPED = "ok", "alert", "skipped"
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


@dataclass
class Finding:
    """The outcome of one check on one subject.

    ``key`` names the message in the catalogue (``monitor.<key>``), filled with ``values``; the same
    ``check`` and ``subject`` make the same cause, so an alert stays one alert until it clears.
    """

    check: str
    subject: str
    status: str
    severity: str | None = None
    value: float | None = None
    threshold: float | None = None
    key: str = ""
    values: dict = field(default_factory=dict)
    detail: str = ""

    @property
    def cause(self) -> str:
        """One open alert per cause: the check and its subject."""
        return f"{self.check}:{self.subject}"

    def message(self, lang: str) -> str:
        """The plain-language message in ``lang``."""
        return t(f"monitor.{self.key}", lang, **self.values) if self.key else self.detail


def ok(
    check: str, subject: str, value: float | None = None, threshold: float | None = None, detail: str = ""
) -> Finding:
    """A check that found nothing wrong."""
    return Finding(check, subject, OK, value=value, threshold=threshold, detail=detail)


def skipped(check: str, subject: str, detail: str) -> Finding:
    """A check with nothing to look at yet (no outcomes, no new rows, no table)."""
    return Finding(check, subject, SKIPPED, detail=detail)


def alert(
    check: str,
    subject: str,
    severity: str,
    key: str,
    *,
    value: float | None = None,
    threshold: float | None = None,
    **values,
) -> Finding:
    """A check that found something worth an alert."""
    text = t(f"monitor.{key}", "en", **values)
    return Finding(check, subject, ALERT, severity, value, threshold, key, values, text)

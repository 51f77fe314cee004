"""One SMTP connection per batch, with TLS and login from ``settings.smtp``.

The password never leaves the settings object (not logged, not put in error messages).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage

from carsight.config import SmtpSettings
from carsight.errors import CarsightError


class DeliveryError(CarsightError):
    """The mail server could not be reached or refused the login."""


def open_connection(cfg: SmtpSettings) -> smtplib.SMTP:
    """Connect, secure and log in once; the caller sends the whole batch over this connection."""
    context = ssl.create_default_context()
    try:
        if cfg.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=context)
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
            conn.ehlo()
            if cfg.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
        if cfg.username:
            password = cfg.password.get_secret_value() if cfg.password else ""
            conn.login(cfg.username, password)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP login to {cfg.host}:{cfg.port} as {cfg.username} was refused ({exc.smtp_code})"
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        # str(exc) of a socket/TLS error never contains the password; keep it short anyway.
        raise DeliveryError(
            f"cannot connect to SMTP server {cfg.host}:{cfg.port} ({cfg.security}): {type(exc).__name__}: {exc}"
        ) from None
    return conn


def close_quietly(conn: smtplib.SMTP | None) -> None:
    """Close an SMTP connection, ignoring a server that already went away."""
    if conn is None:
        return
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            conn.close()


class RateLimiter:
    """Spaces sends at most ``rate`` per second (the provider's limit, or a courtesy to our own server)."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        """Sleep until the next message may go out."""
        if not self.interval:
            return
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def send_one(conn: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message; raises the smtplib error for the caller to classify."""
    refused = conn.send_message(message)
    if refused:  # with one recipient per message, a partial refusal is a failure
        raise smtplib.SMTPRecipientsRefused(refused)


def describe_smtp_error(exc: BaseException) -> str:
    """The server's reply as one short line for the delivery log."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"connection lost: {exc}" if str(exc) else "connection lost"
    return f"{type(exc).__name__}: {exc}"


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def send_messages(cfg: SmtpSettings, messages: list[EmailMessage]) -> None:
    """Send a few messages (scheduled reports) over one connection; any failure raises DeliveryError."""
    conn = open_connection(cfg)
    try:
        for message in messages:
            try:
                send_one(conn, message)
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryError(f"sending to {message['To']} failed: {describe_smtp_error(exc)}") from None
    finally:
        close_quietly(conn)

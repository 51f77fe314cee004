"""Sending an e-mail campaign to a target list, idempotently.

Each campaign × customer gets at most one *accepted* message. Before a message goes to the
server its row in ``delivery_log`` is ``queued``; it becomes ``sent`` right after the server
accepts it. A re-run skips ``sent`` rows and retries ``queued``/``failed`` ones up to
``max_attempts``. The one window left is a crash between the server's acceptance and the
``sent`` write (milliseconds): that message is retried, so delivery there is at-least-once. We
chose that over at-most-once because a campaign e-mail silently lost is worse for the user than
a rare duplicate, and every retry carries the same ``Message-ID``, which mail clients use to
drop duplicates.
"""

from __future__ import annotations

import hashlib
import smtplib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

import pandas as pd

from carsight.config import Settings
from carsight.errors import InputError
from carsight.ingest import read_raw
from carsight.notify import recipients
from carsight.notify.smtp import RateLimiter, close_quietly, describe_smtp_error, open_connection, send_one
from carsight.notify.templates import TemplateSet
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_delivery import DELIVERY_LOG, FAILED, QUEUED, SENT, SKIPPED

MAX_ATTEMPTS = 3

# Reasons for not mailing someone (stored in delivery_log.reason and counted in the report).
OPTED_OUT = "opted_out"
NO_CONSENT = "no_marketing_consent"
NO_EMAIL = "no_valid_email"
UNKNOWN = "unknown_customer"


@dataclass
class SendReport:
    """What one ``send_campaign`` call did. ``ok`` is False when anything failed or was left unsent."""

    campaign_id: str
    dry_run: bool
    requested: int = 0
    sent: int = 0
    failed: int = 0
    already_sent: int = 0
    pending: int = 0  # queued but not attempted (the connection was lost part-way)
    gave_up: int = 0  # failed max_attempts times earlier; not retried
    skipped: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)  # dry run: the .eml files

    @property
    def ok(self) -> bool:
        """Whether every message was sent or skipped on purpose."""
        return self.failed == 0 and self.pending == 0 and self.gave_up == 0

    def as_dict(self) -> dict:
        """The report as a plain dictionary (CLI and dashboard)."""
        return {
            "campaign_id": self.campaign_id,
            "dry_run": self.dry_run,
            "requested": self.requested,
            "sent": self.sent,
            "failed": self.failed,
            "already_sent": self.already_sent,
            "pending": self.pending,
            "gave_up": self.gave_up,
            "skipped": dict(self.skipped),
            "written": len(self.written),
        }


def message_id(campaign_id: str, customer_id: str, domain: str) -> str:
    """Stable per campaign × customer, so a retried message is recognisably the same message."""
    digest = hashlib.sha256(f"{campaign_id}\x00{customer_id}".encode()).hexdigest()[:24]
    return f"<carsight.{digest}@{domain}>"


def _campaign_fields(wh: Warehouse, campaign_id: str) -> dict:
    fields = {"campaign_id": campaign_id, "campaign_name": None, "offer": None}
    if wh.has_table(S.CAMPAIGNS.name):
        t = wh.table(S.CAMPAIGNS.name)
        row = t.filter(t.campaign_id == campaign_id).limit(1).to_pandas()
        if len(row):
            fields["campaign_name"] = _clean(row.name.iloc[0])
            fields["offer"] = _clean(row.offer.iloc[0])
    return fields


def _consented(value) -> bool:
    return _clean(value) is not None and bool(value)


def _clean(value):
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    return value


def _existing(wh: Warehouse, campaign_id: str) -> pd.DataFrame:
    if not wh.has_table(DELIVERY_LOG.name):
        return pd.DataFrame(columns=DELIVERY_LOG.column_names).set_index("customer_id")
    t = wh.table(DELIVERY_LOG.name)
    return t.filter(t.campaign_id == campaign_id).to_pandas().set_index("customer_id")


def _build_message(settings: Settings, to: str, rendered, msg_id: str, unsubscribe: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp.sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = msg_id
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    return msg


def send_campaign(
    wh: Warehouse,
    settings: Settings,
    campaign_id: str,
    customer_ids: list[str],
    template: str,
    lang: str = "ko",
    dry_run: bool = False,
    *,
    out_dir: str | Path | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    on_progress: Callable[[int, int], None] | None = None,
    limiter: RateLimiter | None = None,
) -> SendReport:
    """Send ``template`` to ``customer_ids`` for ``campaign_id`` (see the module docstring for the guarantees).

    Opted-out customers, customers without explicit marketing consent and customers without a usable
    address are skipped and logged as such. ``dry_run`` writes the messages as ``.eml`` files under
    ``out_dir`` and neither sends nor logs anything.
    """
    campaign_id = (campaign_id or "").strip()
    if not campaign_id:
        raise InputError("a campaign id is required", column="campaign_id")
    if lang not in ("ko", "en"):
        raise InputError(f"unknown language '{lang}'", column="lang", expected="ko or en")
    templates = TemplateSet(template, lang)
    ids = list(dict.fromkeys(str(i).strip() for i in customer_ids if str(i).strip()))
    report = SendReport(campaign_id=campaign_id, dry_run=dry_run, requested=len(ids))

    people = recipients.customers_frame(wh, ids)
    blocked_ids, blocked_emails = recipients.opted_out(wh)
    existing = _existing(wh, campaign_id)
    common = _campaign_fields(wh, campaign_id)
    domain = settings.smtp.sender.rsplit("@", 1)[-1] or "localhost"
    skipped: Counter[str] = Counter()
    now = pd.Timestamp.now()
    log_rows: list[dict] = []
    outgoing: list[tuple[str, str, EmailMessage, int]] = []  # customer, address, message, attempts so far

    for cid in ids:
        previous = existing.loc[cid] if cid in existing.index else None
        if previous is not None and previous.status == SENT:
            report.already_sent += 1
            continue
        attempts = int(previous.attempts) if previous is not None else 0
        if previous is not None and previous.status == FAILED and attempts >= max_attempts:
            report.gave_up += 1
            continue
        reason = None
        email = None
        if cid not in people.index:
            reason = UNKNOWN
        else:
            person = people.loc[cid]
            email = _clean(person.get("email"))
            email = str(email).strip() if email else None
            if cid in blocked_ids or (email and email.lower() in blocked_emails):
                reason = OPTED_OUT
            elif not _consented(person.get("marketing_opt_in")):
                # Korean law (and GDPR) require prior consent for marketing mail: unknown means no.
                reason = NO_CONSENT
            elif not email or not recipients.EMAIL.match(email):
                reason = NO_EMAIL
        if reason:
            skipped[reason] += 1
            log_rows.append(
                _row(campaign_id, cid, email, SKIPPED, reason, attempts, template, lang, None, now, previous)
            )
            continue
        unsubscribe = f"mailto:{settings.smtp.sender}?subject=unsubscribe%20{cid}"
        fields = {
            **common,
            "customer_id": cid,
            "name": _clean(person.get("name")),
            "email": email,
            "segment": _clean(person.get("segment")),
            "rfm_grade": _clean(person.get("rfm_grade")),
            "segment_id": _clean(person.get("segment_id")),
            "recommended_model": _clean(person.get("recommended_model")),
            "recommended_models": list(person.get("recommended_models") or []),
            "region": _clean(person.get("region")),
            "unsubscribe": settings.smtp.sender,
            "lang": lang,
        }
        rendered = templates.render(fields)
        msg_id = message_id(campaign_id, cid, domain)
        to = formataddr((fields["name"], email)) if fields["name"] else email
        outgoing.append((cid, email, _build_message(settings, to, rendered, msg_id, unsubscribe), attempts))
        log_rows.append(_row(campaign_id, cid, email, QUEUED, None, attempts, template, lang, msg_id, now, previous))
    report.skipped = dict(skipped)

    if dry_run:
        target = Path(out_dir) if out_dir else settings.output_dir / "campaigns" / campaign_id
        target.mkdir(parents=True, exist_ok=True)
        for cid, _email, message, _ in outgoing:
            path = target / f"{_safe_name(cid)}.eml"
            path.write_bytes(bytes(message))
            report.written.append(path)
        report.sent = 0
        return report

    if not outgoing:
        if log_rows:
            wh.upsert(DELIVERY_LOG, pd.DataFrame(log_rows, columns=DELIVERY_LOG.column_names))
        return report

    limiter = limiter or RateLimiter(settings.smtp.rate_per_second)
    # Connect (and log in) before queueing, so a wrong password or host leaves no rows behind.
    conn = open_connection(settings.smtp)
    queued_rows = {r["customer_id"]: r for r in log_rows if r["status"] == QUEUED}
    try:
        # Queue everything before the first message: after a crash the log tells what was still to do.
        wh.upsert(DELIVERY_LOG, pd.DataFrame(log_rows, columns=DELIVERY_LOG.column_names))
        for position, (cid, _email, message, attempts) in enumerate(outgoing):
            limiter.wait()
            row = dict(queued_rows[cid], attempts=attempts + 1)
            try:
                send_one(conn, message)
            except (OSError, smtplib.SMTPException) as exc:
                reason = describe_smtp_error(exc)
                report.failed += 1
                report.failures.append((cid, reason))
                _update(wh, row | {"status": FAILED, "reason": reason, "updated_at": pd.Timestamp.now()})
                # SMTPException subclasses OSError: a plain OSError is a socket failure.
                lost = isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException)
                if lost or getattr(conn, "sock", None) is None:
                    # The connection is gone: the rest stay queued for the next run.
                    report.pending = len(outgoing) - position - 1
                    conn = None
                    break
            else:
                stamp = pd.Timestamp.now()
                _update(wh, row | {"status": SENT, "reason": None, "sent_at": stamp, "updated_at": stamp})
                report.sent += 1
            finally:
                if on_progress:
                    on_progress(position + 1, len(outgoing))
    finally:
        close_quietly(conn)
    return report


def _row(campaign_id, cid, email, status, reason, attempts, template, lang, msg_id, now, previous) -> dict:
    queued_at = previous.queued_at if previous is not None and _clean(previous.queued_at) is not None else now
    return {
        "campaign_id": campaign_id,
        "customer_id": cid,
        "email": email,
        "status": status,
        "reason": reason,
        "attempts": attempts,
        "template": template,
        "lang": lang,
        "message_id": msg_id,
        "queued_at": queued_at if status != SKIPPED else None,
        "sent_at": None,
        "updated_at": now,
    }


def _update(wh: Warehouse, row: dict) -> None:
    wh.upsert(DELIVERY_LOG, pd.DataFrame([row], columns=DELIVERY_LOG.column_names))


def _safe_name(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in value)[:100] or "customer"


def delivery_log(wh: Warehouse, campaign_id: str | None = None) -> pd.DataFrame:
    """The delivery log (one campaign, or all), newest first; what the dashboard shows."""
    if not wh.has_table(DELIVERY_LOG.name):
        return pd.DataFrame(columns=DELIVERY_LOG.column_names)
    t = wh.table(DELIVERY_LOG.name)
    if campaign_id:
        t = t.filter(t.campaign_id == campaign_id)
    return t.order_by([t.updated_at.desc(), t.customer_id]).to_pandas()


def read_targets(path: str | Path) -> list[str]:
    """Customer ids from a target file (CSV/XLSX/parquet with a ``customer_id`` column)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("target list not found", file=str(path))
    frame = read_raw(path)
    column = next((c for c in frame.columns if str(c).strip().lower() in ("customer_id", "고객번호", "customer")), None)
    if column is None:
        raise InputError(
            "the target list has no customer_id column",
            file=str(path),
            column="customer_id",
            expected="a customer_id column",
        )
    ids = frame[column].dropna().astype(str).str.strip()
    return [i for i in ids if i]

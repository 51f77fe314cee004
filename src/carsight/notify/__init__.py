"""E-mail campaigns.

Per-segment Korean/English templates, one SMTP connection per batch, a rate limit, an opt-out list
that always wins, and a delivery log that makes sending idempotent.
"""

from carsight.notify.campaign import MAX_ATTEMPTS, SendReport, delivery_log, read_targets, send_campaign
from carsight.notify.optout import add_opt_outs, list_opt_outs
from carsight.notify.smtp import DeliveryError, send_messages
from carsight.notify.templates import shipped_templates

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryError",
    "SendReport",
    "add_opt_outs",
    "delivery_log",
    "list_opt_outs",
    "read_targets",
    "send_campaign",
    "send_messages",
    "shipped_templates",
]

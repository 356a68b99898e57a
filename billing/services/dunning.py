"""Dunning: the texts and emails around a failed membership payment.

A failed payment opens dunning (a message now, a reminder some days later); a payment
closes it (the reminder is canceled, a receipt goes out); an ended subscription cancels
whatever is still owed. Messages are keyed by the invoice, so a repeated event sends once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.utils import timezone

from billing.models import Invoice
from notifications.models import Category, Channel
from notifications.services import message_schedule, messages_cancel
from patients.models import Patient

MEMBERSHIP_LINK: Final = "/membership"


def _dunning_key(invoice: Invoice) -> str:
    return f"billing:invoice:{invoice.public_id}"


def _notify(patient: Patient, template_key: str, dedupe_key: str, send_at: datetime) -> None:
    for channel in (Channel.SMS, Channel.EMAIL):
        message_schedule(
            recipient=patient.user,
            template_key=template_key,
            category=Category.BILLING,
            channel=channel,
            dedupe_key=f"{dedupe_key}:{channel}",
            context={"path": MEMBERSHIP_LINK} if template_key != "payment_received" else {},
            send_at=send_at,
        )


def dunning_open(invoice: Invoice, at: datetime, *, needs_action: bool) -> None:
    """The first failed payment of an invoice: a generic text and email now (they link to
    the membership page, where the portal opens; or, when the bank wants the patient to
    confirm the payment, ask for that), and a reminder some days later."""
    key = _dunning_key(invoice)
    now = timezone.now()
    template = "payment_action_required" if needs_action else "payment_failed"
    _notify(invoice.patient, template, f"{key}:failed", now)
    reminder_at = max(at, now) + timedelta(days=settings.BILLING_REMINDER_DAYS)
    _notify(invoice.patient, "payment_reminder", f"{key}:reminder", reminder_at)


def dunning_close(invoice: Invoice) -> None:
    key = _dunning_key(invoice)
    messages_cancel(dedupe_prefix=f"{key}:reminder")
    _notify(invoice.patient, "payment_received", f"{key}:paid", timezone.now())


def dunning_abandon(invoice: Invoice) -> None:
    """The subscription ended: nothing more about this invoice goes out."""
    messages_cancel(dedupe_prefix=f"{_dunning_key(invoice)}:")

"""The membership mirror: Subscription and Invoice rows written from the gateway's word.

They change only from gateway answers: webhook events, a refetch (`memberships_sync`), or
the gateway's own reply to a change we asked for. Never from the browser coming back from
checkout. A description older than what a row already holds never moves it backwards.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from django.db.models import Min
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_write
from billing.gateways import base as gw
from billing.gateways.registry import gateway
from billing.models import (
    BillingCustomer,
    Invoice,
    InvoiceStatus,
    Subscription,
    SubscriptionStatus,
    WebhookOutcome,
)
from billing.services.dunning import dunning_abandon, dunning_close, dunning_open
from patients.models import Patient

logger = logging.getLogger(__name__)

ENDED: Final = (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED)
_FINAL_INVOICE: Final = (InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE)


def gateway_now() -> datetime:
    """Now, at the gateway's resolution: its event times are whole seconds, and an event
    from the same second as a reply we applied must still count as no older than it."""
    return timezone.now().replace(microsecond=0)


def customer_patient(customer_id: str) -> Patient | None:
    customer = (
        BillingCustomer.objects.select_related("patient__user")
        .filter(gateway_customer_id=customer_id)
        .first()
    )
    return customer.patient if customer else None


def subscription_write(row: Subscription, data: gw.Subscription, *, at: datetime) -> None:
    entering_past_due = (
        data.status == SubscriptionStatus.PAST_DUE and row.status != SubscriptionStatus.PAST_DUE
    )
    if data.status == SubscriptionStatus.PAST_DUE:
        if entering_past_due or row.past_due_since is None:
            row.past_due_since = at
    elif data.status != SubscriptionStatus.UNPAID:
        row.past_due_since = None
    if data.status == SubscriptionStatus.CANCELED and row.canceled_at is None:
        row.canceled_at = data.ended_at or at
    row.status = data.status
    row.current_period_end = data.current_period_end
    row.cancel_at_period_end = data.cancel_at_period_end
    row.price_id = data.price_id
    row.amount_cents = data.amount_cents
    row.currency = data.currency
    row.last_event_at = max(filter(None, (row.last_event_at, at)))
    row.save()


def subscription_apply(
    data: gw.Subscription, *, at: datetime, source: str, refetched: bool = False
) -> str:
    """Mirror a subscription as the gateway described it at `at`. A description older
    than what the mirror already holds is ignored (`stale`). `refetched`: `data` was just
    read from the gateway (the state now, not an event's)."""
    patient = customer_patient(data.customer_id)
    if patient is None:
        return WebhookOutcome.UNKNOWN_CUSTOMER
    row, _ = Subscription.objects.get_or_create(
        gateway_subscription_id=data.id,
        defaults={"patient": patient, "status": data.status},
    )
    row = Subscription.objects.select_for_update().get(pk=row.pk)
    if row.patient_id != patient.pk:
        logger.warning("billing: subscription %s changed customer; not applied", data.id)
        return WebhookOutcome.CUSTOMER_MISMATCH
    if row.last_event_at and at < row.last_event_at:
        return WebhookOutcome.STALE
    if row.last_event_at == at and not refetched:
        if source == "sync":
            # An event of the very second of our snapshot may be newer than the snapshot.
            return WebhookOutcome.STALE
        # Gateway times are whole seconds: two events of one second say nothing about
        # their order, so ask the gateway for the state now (under the row lock), and
        # stamp it with the time before asking.
        fetched_at = gateway_now()
        data = gateway().subscription_retrieve(data.id)
        if data.customer_id != row.patient.billing_customer.gateway_customer_id:
            return WebhookOutcome.CUSTOMER_MISMATCH
        at = max(at, fetched_at)
    subscription_write(row, data, at=at)
    Invoice.objects.filter(gateway_subscription_id=row.gateway_subscription_id).exclude(
        subscription=row
    ).update(subscription=row)
    if row.status == SubscriptionStatus.PAST_DUE:
        # The grace period runs from the first unpaid failure, however late we learn of it.
        first_failure = row.invoices.filter(
            status=InvoiceStatus.OPEN, payment_failed_at__isnull=False
        ).aggregate(first=Min("payment_failed_at"))["first"]
        if first_failure and first_failure < (row.past_due_since or at):
            row.past_due_since = first_failure
            row.save(update_fields=["past_due_since", "updated_at"])
    audit_write(
        row,
        actor=None,
        action=AuditAction.UPDATE,
        detail={"source": source, "status": row.status},
    )
    if row.status in ENDED:
        for invoice in row.invoices.filter(paid_at__isnull=True, payment_failed_at__isnull=False):
            dunning_abandon(invoice)
    return WebhookOutcome.APPLIED


def invoice_apply(
    data: gw.Invoice, *, at: datetime, source: str, payment_failed: bool = False
) -> str:
    """Mirror an invoice; a failed payment opens dunning and puts an active subscription
    past due, a payment closes dunning and restores a past-due or unpaid one at once.
    From a sync (source "sync") the subscription is left to its own snapshot: an old
    invoice seen late says nothing about the subscription now."""
    patient = customer_patient(data.customer_id)
    if patient is None:
        return WebhookOutcome.UNKNOWN_CUSTOMER
    subscription = Subscription.objects.filter(
        gateway_subscription_id=data.subscription_id, patient=patient
    ).first()
    row, _ = Invoice.objects.get_or_create(
        gateway_invoice_id=data.id,
        defaults={"patient": patient, "status": data.status, "issued_at": data.created},
    )
    row = Invoice.objects.select_for_update().get(pk=row.pk)
    if row.last_event_at and at < row.last_event_at:
        return WebhookOutcome.STALE
    if row.status in _FINAL_INVOICE and data.status not in _FINAL_INVOICE:
        return WebhookOutcome.STALE  # an invoice never reopens
    was_paid, was_failing = row.paid_at is not None, row.payment_failed_at is not None
    row.subscription = subscription or row.subscription
    row.gateway_subscription_id = data.subscription_id
    row.number = data.number
    row.status = data.status
    row.amount_due_cents = data.amount_due_cents
    row.amount_paid_cents = data.amount_paid_cents
    row.currency = data.currency
    row.period_start = data.period_start
    row.period_end = data.period_end
    row.hosted_invoice_url = data.hosted_invoice_url
    row.issued_at = data.created
    row.last_event_at = at
    if payment_failed and data.status != InvoiceStatus.PAID and not was_failing:
        row.payment_failed_at = at
    if data.status == InvoiceStatus.PAID and not was_paid:
        row.paid_at = at
    row.save()
    audit_write(
        row,
        actor=None,
        action=AuditAction.UPDATE,
        detail={"source": source, "status": row.status},
    )
    ended = row.subscription is not None and row.subscription.status in ENDED
    if row.payment_failed_at and not was_failing and not ended:
        dunning_open(row, at, needs_action=source == "invoice.payment_action_required")
    if row.paid_at and not was_paid and was_failing:
        dunning_close(row)
    newly_paid = row.paid_at is not None and not was_paid
    newly_failing = row.payment_failed_at is not None and not was_failing
    if subscription is not None and (newly_paid or newly_failing) and source != "sync":
        _subscription_follow_invoice(subscription, row, at)
    return WebhookOutcome.APPLIED


def _subscription_follow_invoice(
    subscription: Subscription, invoice: Invoice, at: datetime
) -> None:
    """The subscription's own event usually follows; until it does, the invoice says enough
    (a payment restores access at once; a failure starts the grace period)."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.last_event_at and at < subscription.last_event_at:
        return
    still_failing = subscription.invoices.filter(
        status=InvoiceStatus.OPEN, payment_failed_at__isnull=False
    ).exclude(pk=invoice.pk)
    if (
        invoice.paid_at
        and subscription.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID)
        and not still_failing.exists()
    ):
        subscription.status = SubscriptionStatus.ACTIVE
        subscription.past_due_since = None
    elif invoice.payment_failed_at and not invoice.paid_at:
        if subscription.status == SubscriptionStatus.ACTIVE:
            subscription.status = SubscriptionStatus.PAST_DUE
            subscription.past_due_since = at
    else:
        return
    subscription.last_event_at = at
    subscription.save()

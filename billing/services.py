"""Billing writes: checkout, cancel/resume, the portal, webhook events and reconciliation.

The membership mirror (Subscription, Invoice) changes only from gateway answers: webhook
events, a refetch (`memberships_sync`), or the gateway's own reply to a change we asked
for. Never from the browser coming back from checkout.

Gateway calls happen inside a transaction that holds the patient's (or subscription's)
row lock, so two clicks at once make one call; idempotency keys derived from our rows make
a retried call return the gateway's first answer instead of doing it twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_record
from billing import selectors
from billing.errors import gateway_call
from billing.gateways import base as gw
from billing.gateways import gateway
from billing.gateways.shapes import invoice_from_dict, object_id, subscription_from_dict
from billing.models import (
    BillingCustomer,
    CheckoutAttempt,
    Invoice,
    InvoiceStatus,
    Subscription,
    SubscriptionStatus,
    WebhookEvent,
    WebhookOutcome,
)
from core.errors import Conflict, ValidationFailed
from notifications.models import Category, Channel
from notifications.services import message_schedule, messages_cancel
from patients.models import Patient
from patients.selectors.own_record import own_record

logger = logging.getLogger(__name__)
T = TypeVar("T")

MEMBERSHIP_LINK: Final = "/membership"
# A hosted checkout is valid for 24 hours; reuse ours for a little less than that.
CHECKOUT_REUSE: Final = timedelta(hours=23)
_MEMBER_STATES: Final = (
    selectors.ACTIVE,
    selectors.PAST_DUE,
    selectors.PAUSED,
    selectors.INCOMPLETE,
)


def _gateway_now() -> datetime:
    """Now, at the gateway's resolution: its event times are whole seconds, and an event
    from the same second as a reply we applied must still count as no older than it."""
    return timezone.now().replace(microsecond=0)


def _lock_billing_of(patient: Patient) -> None:
    """Serialise one patient's checkouts without locking the patient row itself (held
    across gateway calls, that would stall every other write to the record)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"billing:{patient.pk}"]
        )


def customer_ensure(patient: Patient) -> BillingCustomer:
    """The patient's gateway customer, created once (the idempotency key makes a retry
    after a lost answer return the same customer). Only the email and our opaque patient
    id go to the gateway: never a name, a diagnosis or anything clinical."""
    existing = BillingCustomer.objects.filter(patient=patient).first()
    if existing is not None:
        return existing
    customer_id = gateway_call(
        lambda: gateway().customer_create(
            email=patient.user.email,
            reference=str(patient.public_id),
            idempotency_key=f"customer:{patient.public_id}",
        )
    )
    customer, _ = BillingCustomer.objects.get_or_create(
        patient=patient, defaults={"gateway_customer_id": customer_id}
    )
    return customer


def checkout_start(*, user: User) -> CheckoutAttempt:
    """A hosted checkout for the membership. 409 `already_member` while a membership is
    active, past due, paused or awaiting its first payment, also when only the gateway
    knows it yet (a paid checkout whose webhooks are late); a repeated request within the
    checkout's lifetime gets the same checkout back."""
    patient = own_record(user)
    with transaction.atomic():
        _lock_billing_of(patient)
        if reusable := _member_or_reusable_checkout(patient):
            return reusable
    # Outside the transaction, so what the gateway says is mirrored even when we refuse.
    if _gateway_has_live_subscription(patient):
        raise Conflict("Your payment is being confirmed. It takes a moment.", code="already_member")
    return _checkout_open(patient, user)


def _member_or_reusable_checkout(patient: Patient) -> CheckoutAttempt | None:
    state = selectors.membership_state(selectors.current_subscription(patient))
    if state in _MEMBER_STATES:
        raise Conflict(
            "You already have a membership. Manage your card in the billing portal.",
            code="already_member",
        )
    return (
        CheckoutAttempt.objects.filter(
            patient=patient,
            completed_at__isnull=True,
            created_at__gt=timezone.now() - CHECKOUT_REUSE,
        )
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def _checkout_open(patient: Patient, user: User) -> CheckoutAttempt:
    _lock_billing_of(patient)
    if reusable := _member_or_reusable_checkout(patient):  # a twin request got here first
        return reusable
    customer = customer_ensure(patient)
    attempt = CheckoutAttempt(patient=patient)
    app = settings.PUBLIC_APP_URL.rstrip("/") + MEMBERSHIP_LINK
    session = gateway_call(
        lambda: gateway().checkout_session_create(
            customer_id=customer.gateway_customer_id,
            price_id=settings.STRIPE_PRICE_ID,
            success_url=f"{app}?checkout=complete",
            cancel_url=f"{app}?checkout=cancelled",
            reference=str(attempt.public_id),
            idempotency_key=f"checkout:{attempt.public_id}",
        )
    )
    attempt.gateway_session_id = session.id
    attempt.url = session.url
    attempt.save()
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type="billing.checkoutattempt",
        object_id=str(attempt.public_id),
        patient_id=patient.public_id,
    )
    return attempt


def _gateway_has_live_subscription(patient: Patient) -> bool:
    """Ask the gateway itself before opening another checkout: a paid checkout whose
    webhooks are late (or failing) must not lead to a second subscription. Whatever it
    knows is mirrored on the way."""
    customer = BillingCustomer.objects.filter(patient=patient).first()
    if customer is None:
        return False
    fetched_at = _gateway_now()
    subscriptions = gateway_call(
        lambda: gateway().subscriptions_for_customer(customer.gateway_customer_id)
    )
    with transaction.atomic():
        for subscription in subscriptions:
            subscription_apply(subscription, at=fetched_at, source="checkout_check", refetched=True)
    return any(subscription.status not in _ENDED for subscription in subscriptions)


def portal_url(*, user: User) -> str:
    """A billing-portal session (change the card, see receipts) for the patient."""
    patient = own_record(user)
    customer = BillingCustomer.objects.filter(patient=patient).first()
    if customer is None:
        raise Conflict("There is no membership to manage yet.", code="no_membership")
    return gateway_call(
        lambda: gateway().portal_session_create(
            customer_id=customer.gateway_customer_id,
            return_url=settings.PUBLIC_APP_URL.rstrip("/") + MEMBERSHIP_LINK,
        )
    )


@transaction.atomic
def membership_set_cancel_at_period_end(*, user: User, cancel: bool) -> Subscription:
    """Cancel at the period end (`cancel=True`) or resume before it ends (`cancel=False`).
    Asking for the state it is already in changes nothing and answers the same."""
    patient = own_record(user)
    current = selectors.current_subscription(patient)
    state = selectors.membership_state(current)
    if current is None or state in (selectors.NONE, selectors.CANCELED):
        raise Conflict("There is no membership to change.", code="no_membership")
    subscription = Subscription.objects.select_for_update().get(pk=current.pk)
    if state == selectors.INCOMPLETE:
        raise Conflict("The membership is not active yet.", code="membership_incomplete")
    if subscription.cancel_at_period_end == cancel:
        return subscription
    # Changes on every write of the row, so cancel, resume, cancel again are three keys.
    version = subscription.updated_at.isoformat()
    answer = gateway_call(
        lambda: gateway().subscription_set_cancel_at_period_end(
            subscription.gateway_subscription_id,
            cancel=cancel,
            idempotency_key=f"subscription:{subscription.public_id}:cancel={cancel}:{version}",
        )
    )
    _subscription_write(subscription, answer, at=_gateway_now())
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="billing.subscription",
        object_id=str(subscription.public_id),
        patient_id=patient.public_id,
        detail={"event": "cancel_requested" if cancel else "resumed"},
    )
    return subscription


@transaction.atomic
def invoice_pay_now(*, user: User) -> Invoice:
    """Retry the unpaid invoice of the patient's membership now (after updating the card),
    instead of waiting for the gateway's next automatic attempt. 402 when declined."""
    patient = own_record(user)
    current = selectors.current_subscription(patient)
    invoice = (
        Invoice.objects.select_for_update()
        .filter(
            subscription=current,
            subscription__status__in=(SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID),
            status=InvoiceStatus.OPEN,
            payment_failed_at__isnull=False,
        )
        .order_by("issued_at")
        .first()
    )
    if current is None or invoice is None:
        raise Conflict("Nothing is due.", code="nothing_due")
    # A fresh key per attempt: a decline is remembered under its key, and the patient
    # may retry with a new card. The row lock keeps two clicks from paying twice, and
    # the gateway refuses to pay a paid invoice.
    answer = gateway_call(
        lambda: gateway().invoice_pay(
            invoice.gateway_invoice_id,
            idempotency_key=f"invoice:{invoice.public_id}:pay:{uuid.uuid4()}",
        )
    )
    invoice_apply(answer, at=_gateway_now(), source="pay_now")
    audit_record(
        actor=user,
        action=AuditAction.UPDATE,
        object_type="billing.invoice",
        object_id=str(invoice.public_id),
        patient_id=patient.public_id,
        detail={"event": "pay_now"},
    )
    invoice.refresh_from_db()
    return invoice


# --- the mirror ---------------------------------------------------------------------------


def _customer_patient(customer_id: str) -> Patient | None:
    customer = (
        BillingCustomer.objects.select_related("patient__user")
        .filter(gateway_customer_id=customer_id)
        .first()
    )
    return customer.patient if customer else None


def _subscription_write(row: Subscription, data: gw.Subscription, *, at: datetime) -> None:
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
    patient = _customer_patient(data.customer_id)
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
        fetched_at = _gateway_now()
        data = gateway().subscription_retrieve(data.id)
        if data.customer_id != row.patient.billing_customer.gateway_customer_id:
            return WebhookOutcome.CUSTOMER_MISMATCH
        at = max(at, fetched_at)
    _subscription_write(row, data, at=at)
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
    audit_record(
        actor=None,
        action=AuditAction.UPDATE,
        object_type="billing.subscription",
        object_id=str(row.public_id),
        patient_id=patient.public_id,
        detail={"source": source, "status": row.status},
    )
    if row.status in _ENDED:
        for invoice in row.invoices.filter(paid_at__isnull=True, payment_failed_at__isnull=False):
            messages_cancel(dedupe_prefix=f"billing:invoice:{invoice.public_id}:")
    return WebhookOutcome.APPLIED


_ENDED: Final = (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED)


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


def _dunning_open(invoice: Invoice, at: datetime, *, needs_action: bool) -> None:
    """The first failed payment of an invoice: a generic text and email now (they link to
    the membership page, where the portal opens; or, when the bank wants the patient to
    confirm the payment, ask for that), and a reminder some days later."""
    key = f"billing:invoice:{invoice.public_id}"
    now = timezone.now()
    template = "payment_action_required" if needs_action else "payment_failed"
    _notify(invoice.patient, template, f"{key}:failed", now)
    reminder_at = max(at, now) + timedelta(days=settings.BILLING_REMINDER_DAYS)
    _notify(invoice.patient, "payment_reminder", f"{key}:reminder", reminder_at)


def _dunning_close(invoice: Invoice) -> None:
    key = f"billing:invoice:{invoice.public_id}"
    messages_cancel(dedupe_prefix=f"{key}:reminder")
    _notify(invoice.patient, "payment_received", f"{key}:paid", timezone.now())


_FINAL_INVOICE: Final = (InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE)


def invoice_apply(
    data: gw.Invoice, *, at: datetime, source: str, payment_failed: bool = False
) -> str:
    """Mirror an invoice; a failed payment opens dunning and puts an active subscription
    past due, a payment closes dunning and restores a past-due or unpaid one at once.
    From a sync (source "sync") the subscription is left to its own snapshot: an old
    invoice seen late says nothing about the subscription now."""
    patient = _customer_patient(data.customer_id)
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
    audit_record(
        actor=None,
        action=AuditAction.UPDATE,
        object_type="billing.invoice",
        object_id=str(row.public_id),
        patient_id=patient.public_id,
        detail={"source": source, "status": row.status},
    )
    ended = row.subscription is not None and row.subscription.status in _ENDED
    if row.payment_failed_at and not was_failing and not ended:
        _dunning_open(row, at, needs_action=source == "invoice.payment_action_required")
    if row.paid_at and not was_paid and was_failing:
        _dunning_close(row)
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


# --- webhook events ----------------------------------------------------------------------


def _checkout_completed(event: gw.WebhookEvent) -> str:
    """The checkout is paid: mirror its subscription now (refetched: this event does not
    carry it), so the patient is a member even if the subscription's own event is late
    and a second checkout is refused."""
    attempt = (
        CheckoutAttempt.objects.select_for_update()
        .filter(gateway_session_id=str(event.object.get("id", "")))
        .first()
    )
    if attempt is None:
        return WebhookOutcome.UNKNOWN_CUSTOMER
    if attempt.completed_at is None:
        attempt.completed_at = event.created
        attempt.save(update_fields=["completed_at"])
    subscription_id = object_id(event.object.get("subscription"))
    if not subscription_id:
        return WebhookOutcome.APPLIED
    fetched_at = _gateway_now()
    subscription = gateway().subscription_retrieve(subscription_id)
    if _customer_patient(subscription.customer_id) != attempt.patient:
        return WebhookOutcome.CUSTOMER_MISMATCH
    return subscription_apply(
        subscription, at=max(event.created, fetched_at), source=event.type, refetched=True
    )


_AMOUNTS: Final = ("amount_cents", "amount_due_cents", "amount_paid_cents")
_IDS: Final = ("id", "customer_id", "subscription_id", "price_id", "number", "currency")


def _parsed(parse: Callable[[dict[str, Any]], T], event: gw.WebhookEvent) -> T:
    try:
        parsed = parse(event.object)
        amounts = [getattr(parsed, name, 0) for name in _AMOUNTS]
        ids = [getattr(parsed, name, "") for name in _IDS]
        if min(amounts) < 0 or max(len(value) for value in ids) > 255:
            raise ValueError("amount below zero or id too long")
        return parsed
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, OSError) as error:
        raise ValidationFailed(
            "The event's object is not in the expected shape.",
            code="malformed_event",
            fields={"data.object": ["Not a well-formed subscription or invoice."]},
        ) from error


def _subscription_event(event: gw.WebhookEvent) -> str:
    data = _parsed(subscription_from_dict, event)
    return subscription_apply(data, at=event.created, source=event.type)


def _invoice_event(event: gw.WebhookEvent) -> str:
    failed = event.type in ("invoice.payment_failed", "invoice.payment_action_required")
    data = _parsed(invoice_from_dict, event)
    return invoice_apply(data, at=event.created, source=event.type, payment_failed=failed)


EVENT_HANDLERS: Final[dict[str, Callable[[gw.WebhookEvent], str]]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_event,
    "customer.subscription.updated": _subscription_event,
    "customer.subscription.deleted": _subscription_event,
    "invoice.paid": _invoice_event,
    "invoice.payment_failed": _invoice_event,
    "invoice.payment_action_required": _invoice_event,
}


@transaction.atomic
def webhook_event_handle(event: gw.WebhookEvent) -> str | None:
    """Apply a verified gateway event once. Returns its outcome, or None for a duplicate.

    The event row and its effect commit together: a concurrent delivery of the same event
    waits on the row's primary key and then finds it (a duplicate); a failed effect rolls
    the row back too, so the gateway's retry applies it."""
    row, created = WebhookEvent.objects.get_or_create(
        event_id=event.id,
        defaults={
            "type": event.type[:128],
            "object_id": str(event.object.get("id", ""))[:255],
            "created": event.created,
            "outcome": WebhookOutcome.UNHANDLED,
        },
    )
    if not created:
        return None
    handler = EVENT_HANDLERS.get(event.type)
    if handler is None:
        return WebhookOutcome.UNHANDLED
    row.outcome = handler(event)
    row.save(update_fields=["outcome"])
    return row.outcome


# --- reconciliation ----------------------------------------------------------------------


def memberships_sync(*, customer_ids: list[str] | None = None) -> int:
    """Refetch every customer's subscriptions and invoices from the gateway and mirror
    them, repairing missed webhooks. One customer per transaction; returns how many were
    synced. A gateway failure for one customer is logged (by id) and skipped."""
    customers = BillingCustomer.objects.order_by("id")
    if customer_ids is not None:
        customers = customers.filter(gateway_customer_id__in=customer_ids)
    synced = 0
    for customer_id in customers.values_list("gateway_customer_id", flat=True).iterator():
        try:
            _customer_sync(customer_id)
        except gw.GatewayError as error:
            logger.warning("billing sync skipped customer %s: %s", customer_id, error.code)
            continue
        synced += 1
    return synced


def _customer_sync(customer_id: str) -> None:
    # Stamped before fetching: a change made while we fetch is newer than our snapshot,
    # and its own webhook must still apply.
    fetched_at = _gateway_now()
    subscriptions = gateway().subscriptions_for_customer(customer_id)
    invoices = gateway().invoices_for_customer(customer_id)
    with transaction.atomic():
        for subscription in subscriptions:
            subscription_apply(subscription, at=fetched_at, source="sync")
        for invoice in invoices:
            # Open with payment attempts behind it: a failure whose webhook we missed.
            failed = invoice.status == InvoiceStatus.OPEN and invoice.attempt_count > 0
            invoice_apply(invoice, at=fetched_at, source="sync", payment_failed=failed)

"""The patient's changes to a running membership: cancel or resume at the period end,
pay an overdue invoice now, open the billing portal.

Each asks the gateway under the row lock of what it changes, with an idempotency key
derived from our rows, and mirrors the gateway's reply (services.mirror).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from billing import selectors
from billing.errors import gateway_call
from billing.gateways.registry import gateway
from billing.models import BillingCustomer, Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from billing.services.dunning import MEMBERSHIP_LINK
from billing.services.mirror import gateway_now, invoice_apply, subscription_write
from core.errors import Conflict
from patients.selectors.own_record import own_record


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
    subscription_write(subscription, answer, at=gateway_now())
    audit_write(
        subscription,
        actor=user,
        action=AuditAction.UPDATE,
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
    invoice_apply(answer, at=gateway_now(), source="pay_now")
    audit_write(invoice, actor=user, action=AuditAction.UPDATE, detail={"event": "pay_now"})
    invoice.refresh_from_db()
    return invoice

"""Checkout: the gateway customer and the hosted checkout that starts a membership.

Gateway calls happen inside a transaction that holds the patient's billing lock, so two
clicks at once make one call; idempotency keys derived from our rows make a retried call
return the gateway's first answer instead of doing it twice. The membership itself starts
from the gateway's word (services.mirror), never from the browser coming back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from billing import selectors
from billing.errors import gateway_call
from billing.gateways.registry import gateway
from billing.models import BillingCustomer, CheckoutAttempt
from billing.services.dunning import MEMBERSHIP_LINK
from billing.services.mirror import ENDED, gateway_now, subscription_apply
from core.errors import Conflict
from patients.models import Patient
from patients.selectors.own_record import own_record

# A hosted checkout is valid for 24 hours; reuse ours for a little less than that.
CHECKOUT_REUSE: Final = timedelta(hours=23)
_MEMBER_STATES: Final = (
    selectors.ACTIVE,
    selectors.PAST_DUE,
    selectors.PAUSED,
    selectors.INCOMPLETE,
)


EMAIL_UNVERIFIED: Final = "email_unverified"
EMAIL_UNVERIFIED_MESSAGE: Final = "Confirm your email address first: open the link we emailed you."


def email_unverified(user: User) -> bool:
    """The one rule for "this account has not confirmed its email address yet": checkout
    and booking (scheduling.services.booking) refuse such an account, code
    EMAIL_UNVERIFIED, because receipts and visit confirmations go there."""
    return user.email_verified_at is None


def _lock_billing_of(patient: Patient) -> None:
    """Serialize one patient's checkouts without locking the patient row itself (held
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
    checkout's lifetime gets the same checkout back. 409 `email_unverified` until the user
    has confirmed their email address (the gateway's receipts go there)."""
    patient = own_record(user)
    if email_unverified(user):
        raise Conflict(EMAIL_UNVERIFIED_MESSAGE, code=EMAIL_UNVERIFIED)
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
            cancel_url=f"{app}?checkout=canceled",
            reference=str(attempt.public_id),
            idempotency_key=f"checkout:{attempt.public_id}",
        )
    )
    attempt.gateway_session_id = session.id
    attempt.url = session.url
    attempt.save()
    audit_write(attempt, actor=user, action=AuditAction.CREATE)
    return attempt


def _gateway_has_live_subscription(patient: Patient) -> bool:
    """Ask the gateway itself before opening another checkout: a paid checkout whose
    webhooks are late (or failing) must not lead to a second subscription. Whatever it
    knows is mirrored on the way."""
    customer = BillingCustomer.objects.filter(patient=patient).first()
    if customer is None:
        return False
    fetched_at = gateway_now()
    subscriptions = gateway_call(
        lambda: gateway().subscriptions_for_customer(customer.gateway_customer_id)
    )
    with transaction.atomic():
        for subscription in subscriptions:
            subscription_apply(subscription, at=fetched_at, source="checkout_check", refetched=True)
    return any(subscription.status not in ENDED for subscription in subscriptions)

"""Gateway webhooks: verify a signed delivery, then apply its event once.

The event row and its effect commit together (see `webhook_event_handle`), so a duplicate
delivery is answered without effect and a failed effect leaves nothing for the gateway's
retry to trip over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.conf import settings
from django.db import transaction

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from billing.errors import PaymentsUnavailable
from billing.gateways import base as gw
from billing.gateways.registry import gateway
from billing.gateways.shapes import invoice_from_dict, object_id, subscription_from_dict
from billing.models import CheckoutAttempt, WebhookEvent, WebhookOutcome
from billing.services.mirror import (
    customer_patient,
    gateway_now,
    invoice_apply,
    subscription_apply,
)
from core.errors import ValidationFailed

logger = logging.getLogger(__name__)
T = TypeVar("T")


def webhook_receive(*, payload: bytes, signature_header: str) -> str | None:
    """Verify a delivery's signature with the configured gateway and apply its event.
    Returns the outcome, or None for a duplicate. 400 `invalid_signature` for anything
    unsigned, wrongly signed or stale; 503 when the gateway fails while the event is
    applied (nothing is kept, so the gateway's retry applies it)."""
    try:
        event = gateway().webhook_event_construct(
            payload,
            signature_header,
            secret=settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    except gw.WebhookSignatureInvalid:
        # A security event (who is forging payment events?): the audit row has the IP.
        audit_record(
            actor=None,
            action=AuditAction.WEBHOOK_REJECTED,
            object_type="billing.webhook",
            outcome=AuditOutcome.DENIED,
            detail={"reason": "invalid_signature"},
        )
        raise ValidationFailed(
            "The webhook signature is missing, invalid or too old.",
            code="invalid_signature",
            fields={"Stripe-Signature": ["Missing, invalid or too old."]},
        ) from None
    try:
        return webhook_event_handle(event)
    except gw.GatewayError as error:
        logger.warning("webhook %s deferred: gateway %s", event.id, error.code or "error")
        raise PaymentsUnavailable() from error


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
    fetched_at = gateway_now()
    subscription = gateway().subscription_retrieve(subscription_id)
    if customer_patient(subscription.customer_id) != attempt.patient:
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

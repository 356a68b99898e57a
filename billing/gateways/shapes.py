"""Stripe-shaped JSON to our dataclasses, and Stripe's webhook signature scheme.

Shared by the Stripe gateway (SDK objects turned into dicts), the webhook handler (event
payloads) and the local gateway (which produces Stripe-shaped objects and signs and verifies
webhooks as Stripe does). No SDK here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any, Final

from django.core.exceptions import ImproperlyConfigured

from billing.gateways.base import Invoice, Subscription, WebhookEvent, WebhookSignatureInvalid

MAX_ID_LENGTH: Final = 128  # Stripe's ids and event types are far shorter; our columns hold this
LATEST_TIMESTAMP: Final = 32503680000  # year 3000: anything later is not an event time


def from_timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def object_id(value: Any) -> str:
    """An expandable field: either the id itself or the expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def subscription_from_dict(data: dict[str, Any]) -> Subscription:
    items = (data.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price") or item.get("plan") or data.get("plan") or {}
    # Since API version 2025-03-31 the period lives on the item; older ones on the subscription.
    period_end = item.get("current_period_end") or data.get("current_period_end")
    return Subscription(
        id=str(data["id"]),
        customer_id=object_id(data.get("customer")),
        status=str(data.get("status") or ""),
        current_period_end=from_timestamp(period_end),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        price_id=object_id(price),
        amount_cents=int(price.get("unit_amount") or price.get("amount") or 0),
        currency=str(price.get("currency") or ""),
        latest_invoice_id=object_id(data.get("latest_invoice")),
        ended_at=from_timestamp(data.get("ended_at") or data.get("canceled_at")),
    )


def _invoice_subscription_id(data: dict[str, Any]) -> str:
    # Newer API versions moved it under parent.subscription_details.
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return object_id(data.get("subscription") or details.get("subscription"))


def invoice_from_dict(data: dict[str, Any]) -> Invoice:
    lines = (data.get("lines") or {}).get("data") or []
    line_period = (lines[0].get("period") or {}) if lines else {}
    return Invoice(
        id=str(data["id"]),
        customer_id=object_id(data.get("customer")),
        subscription_id=_invoice_subscription_id(data),
        number=str(data.get("number") or ""),
        status=str(data.get("status") or ""),
        amount_due_cents=int(data.get("amount_due") or 0),
        amount_paid_cents=int(data.get("amount_paid") or 0),
        currency=str(data.get("currency") or ""),
        # An invoice's own period_* are the billing run; the line carries the service period.
        period_start=from_timestamp(line_period.get("start") or data.get("period_start")),
        period_end=from_timestamp(line_period.get("end") or data.get("period_end")),
        hosted_invoice_url=str(data.get("hosted_invoice_url") or ""),
        created=from_timestamp(data.get("created")) or datetime.now(tz=UTC),
        attempt_count=int(data.get("attempt_count") or 0),
    )


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for `payload`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_signature(payload, secret, timestamp)}"


def signature_verify(payload: bytes, header: str, *, secret: str, tolerance: int) -> None:
    """Check a Stripe-Signature header as Stripe's SDK does: one of its `v1` signatures is
    ours for `payload`, and its timestamp is at most `tolerance` seconds old."""
    if tolerance <= 0:
        raise ImproperlyConfigured("The webhook tolerance must be a positive number of seconds.")
    if not header:
        raise WebhookSignatureInvalid("No Stripe-Signature header")
    if not secret:
        raise WebhookSignatureInvalid("No webhook secret configured")
    pairs = [item.split("=", 1) for item in header.split(",")]
    stamps = [pair[1] for pair in pairs if len(pair) == 2 and pair[0] == "t"]
    signatures = [pair[1] for pair in pairs if len(pair) == 2 and pair[0] == "v1"]
    if not stamps or not stamps[0].isdigit() or not signatures:
        raise WebhookSignatureInvalid("Signature verification failed")
    timestamp = int(stamps[0])
    expected = _signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise WebhookSignatureInvalid("Signature verification failed")
    if timestamp < time.time() - tolerance:
        raise WebhookSignatureInvalid("Signature verification failed")


def webhook_event_from_json(payload: bytes) -> WebhookEvent:
    """A verified webhook body read as an event: Stripe's own JSON (the handlers expect it),
    with an id, a type, a creation time and `data.object`, or `WebhookSignatureInvalid`."""
    try:
        data = json.loads(payload)
    except ValueError:  # not UTF-8, not JSON
        raise WebhookSignatureInvalid("The body is not a Stripe event") from None
    body = (data.get("data") if isinstance(data, dict) else None) or {}
    obj = body.get("object") if isinstance(body, dict) else None
    event_id = data.get("id") if isinstance(data, dict) else None
    event_type = data.get("type") if isinstance(data, dict) else None
    created = data.get("created") if isinstance(data, dict) else None
    if not (
        isinstance(event_id, str)
        and 0 < len(event_id) <= MAX_ID_LENGTH
        and isinstance(event_type, str)
        and 0 < len(event_type) <= MAX_ID_LENGTH
        and isinstance(obj, dict)
        and isinstance(created, int)
        and 0 < created < LATEST_TIMESTAMP
    ):
        raise WebhookSignatureInvalid("The body is not a Stripe event")
    return WebhookEvent(
        id=event_id,
        type=event_type,
        created=datetime.fromtimestamp(created, tz=UTC),
        object=obj,
    )

"""Stripe-shaped JSON to our dataclasses, and Stripe's webhook signature scheme.

Shared by the Stripe gateway (SDK objects turned into dicts), the webhook handler (event
payloads) and the local gateway (which produces Stripe-shaped objects itself). No SDK here.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from billing.gateways.base import Invoice, Subscription


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


def signature_header(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for `payload`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"

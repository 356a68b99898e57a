"""Webhook payloads signed as Stripe signs them, the local gateway driven end to end, and
what the Stripe gateway tests share."""

from __future__ import annotations

import itertools
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from billing.gateways import local
from billing.gateways.base import CheckoutSession
from billing.gateways.local_delivery import deliver_pending
from billing.gateways.shapes import signature_header
from billing.gateways.stripe import StripeGateway
from billing.models import BillingCustomer, Invoice, Subscription
from billing.services.checkout import checkout_start

WEBHOOK_URL = "/api/billing/stripe/webhook"
EMAIL = "patient.one@example.com"
_ids = itertools.count(1)
NOW = int(time.time())


def event(
    event_type: str, obj: dict[str, Any], *, created: int, event_id: str = ""
) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_test_{next(_ids)}",
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
    }


def subscription_obj(
    *,
    customer: str,
    sub_id: str = "sub_test_1",
    status: str = "active",
    period_end: int | None = None,
    cancel_at_period_end: bool = False,
    on_item: bool = True,
) -> dict[str, Any]:
    period_end = period_end or NOW + 30 * 86400
    item: dict[str, Any] = {
        "id": "si_test_1",
        "price": {"id": "price_test", "unit_amount": 25000, "currency": "usd"},
    }
    data: dict[str, Any] = {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "items": {"data": [item]},
    }
    (item if on_item else data)["current_period_end"] = period_end
    return data


def invoice_obj(
    *,
    customer: str,
    invoice_id: str = "in_test_1",
    sub_id: str = "sub_test_1",
    status: str = "open",
    created: int = NOW,
) -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "subscription": sub_id,
        "number": "TEST-0001",
        "status": status,
        "amount_due": 25000,
        "amount_paid": 25000 if status == "paid" else 0,
        "currency": "usd",
        "lines": {"data": [{"period": {"start": created, "end": created + 30 * 86400}}]},
        "hosted_invoice_url": "https://invoice.stripe.test/i/1",
        "created": created,
    }


def post_signed(
    client: Client,
    payload: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature is None:
        signature = signature_header(
            body, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp
        )
    return client.post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def customer_for(user: User, customer_id: str = "cus_test_1") -> BillingCustomer:
    return BillingCustomer.objects.create(patient=user.patient, gateway_customer_id=customer_id)


def client_transport(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The local gateway's deliveries, into the app in-process instead of over HTTP."""
    response = Client().post(
        WEBHOOK_URL,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
    )
    return int(response.status_code)


def deliver() -> int:
    return deliver_pending(transport=client_transport)


def become_member(user: User, card: str = "4242424242424242") -> Subscription:
    """Check out through the local gateway's hosted page and deliver its events."""
    attempt = checkout_start(user=user)
    local.checkout_complete(attempt.gateway_session_id, card)
    deliver()
    return Subscription.objects.get(patient=user.patient)


def age_mirror(hours: int = 1) -> None:
    """As if every event the mirror holds had arrived `hours` ago (a sync in the very
    second of a webhook cannot tell which is newer, and tests run within one second)."""
    moved = F("last_event_at") - timedelta(hours=hours)
    Subscription.objects.update(last_event_at=moved)
    Invoice.objects.update(last_event_at=moved)


def membership(client: APIClient) -> dict[str, Any]:
    response = client.get("/api/billing/membership")
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def subscription_created_event(**overrides: Any) -> dict[str, Any]:
    """customer.subscription.created for cus_test_1, at NOW."""
    return event(
        "customer.subscription.created",
        subscription_obj(customer="cus_test_1", **overrides),
        created=NOW,
    )


def when(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def checkout_session(gateway: StripeGateway, key: str = "checkout-pat_7f3a-1") -> CheckoutSession:
    return gateway.checkout_session_create(
        customer_id="cus_member",
        price_id="price_membership",
        success_url="https://app.example.test/billing/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://app.example.test/billing",
        reference="pat_7f3a",
        idempotency_key=key,
    )

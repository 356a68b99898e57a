"""The embedded default gateway: behaves like Stripe without a Stripe account.

State lives in `LocalGatewayObject` rows as the Stripe-shaped JSON Stripe would answer
with; every change emits Stripe-shaped events into `LocalGatewayDelivery`, which
`billing.gateways.local_delivery` POSTs to our own webhook endpoint signed exactly as Stripe
signs them, so the webhook code that runs in the demo is the code that runs against Stripe.

Hosted pages (billing/local_pages.py) stand in for Stripe Checkout and the billing portal.
They accept Stripe's test cards only and keep the last four digits, never the number:
- 4242 4242 4242 4242 pays, now and on every renewal;
- 4000 0000 0000 0341 pays at checkout and declines on renewal;
- 4000 0000 0000 0002 (and 9995) decline at once.
"""

from __future__ import annotations

import calendar
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.gateways.base import (
    CardDeclined,
    CheckoutSession,
    Invoice,
    PermanentGatewayError,
    Subscription,
    UpcomingInvoice,
    WebhookEvent,
)
from billing.gateways.shapes import (
    invoice_from_dict,
    signature_verify,
    subscription_from_dict,
    webhook_event_from_json,
)
from billing.models import LocalGatewayDelivery, LocalGatewayObject
from billing.tasks import deliver_local_events

PAYS: Final = "pays"
DECLINES_ON_RENEWAL: Final = "declines_on_renewal"
DECLINES: Final = "declines"
TEST_CARDS: Final = {
    "4242424242424242": PAYS,
    "4000000000000341": DECLINES_ON_RENEWAL,
    "4000000000000002": DECLINES,
    "4000000000009995": DECLINES,
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_local_{secrets.token_hex(12)}"


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def add_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's last day (Jan 31 -> Feb 28)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def object_get(object_id: str, *, lock: bool = False) -> dict[str, Any]:
    rows = LocalGatewayObject.objects.filter(object_id=object_id)
    row = (rows.select_for_update() if lock else rows).first()
    if row is None:
        raise PermanentGatewayError(f"No such object: {object_id}", code="resource_missing")
    data: dict[str, Any] = row.data
    return data


def _put(data: dict[str, Any]) -> dict[str, Any]:
    LocalGatewayObject.objects.update_or_create(
        object_id=data["id"], defaults={"kind": data["object"], "data": data}
    )
    return data


def _emit(event_type: str, obj: dict[str, Any]) -> None:
    event_id = _new_id("evt")
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": _ts(timezone.now()),
        "livemode": False,
        "data": {"object": obj},
    }
    LocalGatewayDelivery.objects.create(event_id=event_id, payload=payload)
    transaction.on_commit(_deliver_soon)


def _deliver_soon() -> None:
    deliver_local_events.delay()


def _idempotent(key: str, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Like Stripe: the same key returns the first answer instead of acting twice."""
    marker = "idem_" + hashlib.sha256(key.encode()).hexdigest()[:48]
    with transaction.atomic():
        existing = LocalGatewayObject.objects.select_for_update().filter(object_id=marker).first()
        if existing is not None:
            return object_get(existing.data["object_id"])
        created = create()
        LocalGatewayObject.objects.create(
            object_id=marker, kind="idempotency", data={"object_id": created["id"]}
        )
        return created


def _price() -> dict[str, Any]:
    return {
        "id": settings.STRIPE_PRICE_ID,
        "object": "price",
        "unit_amount": settings.MEMBERSHIP_AMOUNT_CENTS,
        "currency": settings.MEMBERSHIP_CURRENCY,
        "recurring": {"interval": "month", "interval_count": 1},
        "product": {"name": settings.MEMBERSHIP_NAME},
    }


def _page_url(kind: str, object_id: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/billing/local-{kind}/{object_id}"


class LocalGateway:
    def customer_create(self, *, email: str, reference: str, idempotency_key: str) -> str:
        def create() -> dict[str, Any]:
            return _put(
                {
                    "id": _new_id("cus"),
                    "object": "customer",
                    "email": email,
                    "metadata": {"reference": reference},
                    "created": _ts(timezone.now()),
                    "card": None,
                }
            )

        return str(_idempotent(idempotency_key, create)["id"])

    def checkout_session_create(
        self,
        *,
        customer_id: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        reference: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        object_get(customer_id)
        if price_id != settings.STRIPE_PRICE_ID:
            raise PermanentGatewayError(f"No such price: {price_id}", code="resource_missing")

        def create() -> dict[str, Any]:
            session_id = _new_id("cs")
            return _put(
                {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": "subscription",
                    "customer": customer_id,
                    "client_reference_id": reference,
                    "status": "open",
                    "subscription": None,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "url": _page_url("checkout", session_id),
                    "created": _ts(timezone.now()),
                }
            )

        session = _idempotent(idempotency_key, create)
        return CheckoutSession(id=session["id"], url=session["url"])

    def portal_session_create(self, *, customer_id: str, return_url: str) -> str:
        object_get(customer_id)
        session = _put(
            {
                "id": _new_id("bps"),
                "object": "billing_portal.session",
                "customer": customer_id,
                "return_url": return_url,
                "created": _ts(timezone.now()),
            }
        )
        return _page_url("portal", session["id"])

    def subscription_retrieve(self, subscription_id: str) -> Subscription:
        return subscription_from_dict(object_get(subscription_id))

    def subscriptions_for_customer(self, customer_id: str) -> list[Subscription]:
        return [subscription_from_dict(data) for data in _objects("subscription", customer_id)]

    def subscription_set_cancel_at_period_end(
        self, subscription_id: str, *, cancel: bool, idempotency_key: str
    ) -> Subscription:
        with transaction.atomic():
            subscription = object_get(subscription_id, lock=True)
            if subscription["status"] == "canceled":
                raise PermanentGatewayError("The subscription has ended.", code="invalid_request")
            if subscription["cancel_at_period_end"] != cancel:
                subscription["cancel_at_period_end"] = cancel
                _emit("customer.subscription.updated", _put(subscription))
        return subscription_from_dict(subscription)

    def invoices_for_customer(self, customer_id: str, *, limit: int = 24) -> list[Invoice]:
        return [invoice_from_dict(data) for data in _objects("invoice", customer_id)[:limit]]

    def upcoming_invoice(self, *, customer_id: str, subscription_id: str) -> UpcomingInvoice | None:
        subscription = object_get(subscription_id)
        if subscription["status"] == "canceled" or subscription["cancel_at_period_end"]:
            return None
        item = subscription["items"]["data"][0]
        return UpcomingInvoice(
            amount_due_cents=int(item["price"]["unit_amount"]),
            currency=str(item["price"]["currency"]),
            next_payment_attempt=datetime.fromtimestamp(item["current_period_end"], tz=UTC),
        )

    def invoice_pay(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        with transaction.atomic():
            invoice = object_get(invoice_id, lock=True)
            if invoice["status"] != "paid":
                card = object_get(invoice["customer"]).get("card") or {}
                if card.get("behavior") != PAYS:
                    raise CardDeclined("Your card was declined.", code="card_declined")
                invoice = _invoice_settle(invoice)
        return invoice_from_dict(invoice)

    def webhook_event_construct(
        self, payload: bytes, signature_header: str, *, secret: str, tolerance: int
    ) -> WebhookEvent:
        """Verified as Stripe's SDK verifies (the local gateway signs as Stripe signs)."""
        signature_verify(payload, signature_header, secret=secret, tolerance=tolerance)
        return webhook_event_from_json(payload)


def _objects(kind: str, customer_id: str) -> list[dict[str, Any]]:
    rows = LocalGatewayObject.objects.filter(kind=kind, data__customer=customer_id)
    return [row.data for row in rows.order_by("-created_at", "-object_id")]


# --- what the hosted pages and `billing_simulate` do ---------------------------------------


def card_behavior(number: str) -> str | None:
    return TEST_CARDS.get("".join(ch for ch in number if ch.isdigit()))


def _card(number: str) -> dict[str, str]:
    digits = "".join(ch for ch in number if ch.isdigit())
    return {"last4": digits[-4:], "behavior": TEST_CARDS[digits]}


def _invoice_new(subscription: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    price = subscription["items"]["data"][0]["price"]
    count = LocalGatewayObject.objects.filter(kind="invoice").count() + 1
    invoice_id = _new_id("in")
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": subscription["customer"],
        "parent": {"subscription_details": {"subscription": subscription["id"]}},
        "number": f"LOCAL-{count:06d}",
        "status": "open",
        "amount_due": price["unit_amount"],
        "amount_paid": 0,
        "currency": price["currency"],
        "lines": {"data": [{"period": {"start": _ts(start), "end": _ts(end)}}]},
        "hosted_invoice_url": _page_url("invoice", invoice_id),
        "attempt_count": 0,
        "created": _ts(timezone.now()),
    }


def _invoice_settle(invoice: dict[str, Any]) -> dict[str, Any]:
    """Mark the invoice paid, restore its subscription if it was past due, tell the webhook."""
    invoice.update(status="paid", amount_paid=invoice["amount_due"])
    invoice["attempt_count"] += 1
    _emit("invoice.paid", _put(invoice))
    subscription = object_get(invoice["parent"]["subscription_details"]["subscription"], lock=True)
    if subscription["status"] in ("past_due", "unpaid", "incomplete"):
        subscription["status"] = "active"
        _emit("customer.subscription.updated", _put(subscription))
    return invoice


@transaction.atomic
def checkout_complete(session_id: str, card_number: str) -> dict[str, Any]:
    """Pay a hosted checkout with a test card: the subscription starts, its first invoice is
    paid, and the three events Stripe sends follow. Paying a completed checkout again does
    nothing (a double submission). Raises CardDeclined for a declining card."""
    session = object_get(session_id, lock=True)
    if session["status"] == "complete":
        return session
    if card_behavior(card_number) == DECLINES:
        raise CardDeclined("Your card was declined.", code="card_declined")
    customer = object_get(session["customer"], lock=True)
    customer["card"] = _card(card_number)
    _put(customer)
    now = timezone.now()
    end = add_month(now)
    subscription = {
        "id": _new_id("sub"),
        "object": "subscription",
        "customer": customer["id"],
        "status": "active",
        "cancel_at_period_end": False,
        "created": _ts(now),
        "metadata": {"reference": session["client_reference_id"]},
        "items": {
            "data": [
                {
                    "id": _new_id("si"),
                    "price": _price(),
                    "quantity": 1,
                    "current_period_start": _ts(now),
                    "current_period_end": _ts(end),
                }
            ]
        },
        "latest_invoice": None,
    }
    invoice = _invoice_new(subscription, now, end)
    invoice.update(status="paid", amount_paid=invoice["amount_due"], attempt_count=1)
    subscription["latest_invoice"] = invoice["id"]
    _emit("customer.subscription.created", _put(subscription))
    _emit("invoice.paid", _put(invoice))
    session.update(status="complete", subscription=subscription["id"])
    _emit("checkout.session.completed", _put(session))
    return session


@transaction.atomic
def card_update(portal_session_id: str, card_number: str) -> None:
    """The portal's "update card": the new card becomes the default and pays any open
    invoice at once (as Stripe retries on a new default card)."""
    customer_id = object_get(portal_session_id)["customer"]
    if card_behavior(card_number) == DECLINES:
        raise CardDeclined("Your card was declined.", code="card_declined")
    customer = object_get(customer_id, lock=True)
    customer["card"] = _card(card_number)
    _put(customer)
    for invoice in _objects("invoice", customer_id):
        if invoice["status"] == "open":
            _invoice_settle(object_get(invoice["id"], lock=True))


@transaction.atomic
def renewal_simulate(subscription_id: str, *, fail: bool | None = None) -> str:
    """The end of the current period: a cancellation requested for it takes effect;
    otherwise a new invoice is paid (period advances) or declined (subscription past due).
    `fail` forces the outcome; by default the card decides. Returns what happened."""
    subscription = object_get(subscription_id, lock=True)
    item = subscription["items"]["data"][0]
    if subscription["status"] == "canceled":
        raise PermanentGatewayError("The subscription has ended.", code="invalid_request")
    if subscription["cancel_at_period_end"]:
        subscription["status"] = "canceled"
        subscription["ended_at"] = _ts(timezone.now())
        _emit("customer.subscription.deleted", _put(subscription))
        return "canceled"
    start = datetime.fromtimestamp(item["current_period_end"], tz=UTC)
    end = add_month(start)
    card = object_get(subscription["customer"]).get("card") or {}
    declines = card.get("behavior") != PAYS if fail is None else fail
    invoice = _invoice_new(subscription, start, end)
    invoice["attempt_count"] = 1
    subscription["latest_invoice"] = invoice["id"]
    item.update(current_period_start=_ts(start), current_period_end=_ts(end))
    if declines:
        subscription["status"] = "past_due"
        _emit("invoice.payment_failed", _put(invoice))
        _emit("customer.subscription.updated", _put(subscription))
        return "payment_failed"
    invoice.update(status="paid", amount_paid=invoice["amount_due"])
    _emit("invoice.paid", _put(invoice))
    _emit("customer.subscription.updated", _put(subscription))
    return "paid"

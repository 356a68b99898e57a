"""Webhook signatures, verified by each gateway's `webhook_event_construct`: the Stripe
gateway with the SDK, the local gateway with our own code. Both must accept what Stripe
signs and refuse the same things, so every case runs against both.

No database is needed: verification only reads the body, the header and the secret.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import stripe  # noqa: TID251
from django.core.exceptions import ImproperlyConfigured

from billing.gateways import shapes
from billing.gateways.base import BillingGateway, WebhookSignatureInvalid
from billing.gateways.local import LocalGateway
from billing.gateways.stripe import StripeGateway
from tests.billing.stripe_servers import subscription_object
from tests.billing.support import when

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
TOLERANCE = 300


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "id": "evt_1QxYz",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1_780_000_123,
        "type": "customer.subscription.updated",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_abc", "idempotency_key": "cancel-1"},
        "data": {
            "object": subscription_object(cancel_at_period_end=True),
            "previous_attributes": {"cancel_at_period_end": False},
        },
    }
    event.update(changes)
    return event


def _body(event: dict[str, Any] | None = None) -> bytes:
    return json.dumps(event or _event()).encode()


def _stripe_header(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The header Stripe sends, computed by the SDK's own helper."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=at
    )
    return header


@pytest.fixture(params=["stripe", "local"])
def verifier(request: pytest.FixtureRequest, stripe_settings: Any) -> BillingGateway:
    if request.param == "stripe":
        return StripeGateway()
    return LocalGateway()


def _construct(
    verifier: BillingGateway, payload: bytes, header: str, secret: str = WEBHOOK_SECRET
) -> Any:
    return verifier.webhook_event_construct(payload, header, secret=secret, tolerance=TOLERANCE)


def test_event_signed_like_stripe_is_accepted(verifier: BillingGateway) -> None:
    payload = _body()

    event = _construct(verifier, payload, _stripe_header(payload))

    assert (event.id, event.type) == ("evt_1QxYz", "customer.subscription.updated")
    assert event.created == when(1_780_000_123)
    assert event.created.utcoffset() == timedelta(0)
    assert event.object == subscription_object(cancel_at_period_end=True)
    assert type(event.object) is dict
    assert type(event.object["items"]["data"][0]) is dict
    assert json.loads(json.dumps(event.object)) == event.object
    assert shapes.subscription_from_dict(event.object).cancel_at_period_end is True


def test_the_local_gateways_signature_is_what_stripe_sends(verifier: BillingGateway) -> None:
    payload = _body()
    now = int(time.time())

    header = shapes.signature_header(payload, WEBHOOK_SECRET)

    assert _construct(verifier, payload, header).id == "evt_1QxYz"
    assert shapes.signature_header(payload, WEBHOOK_SECRET, timestamp=now) == _stripe_header(
        payload, at=now
    )


def test_an_event_just_inside_the_tolerance_is_accepted(verifier: BillingGateway) -> None:
    payload = _body()
    header = _stripe_header(payload, at=int(time.time()) - TOLERANCE + 30)

    assert _construct(verifier, payload, header).id == "evt_1QxYz"


def test_tampered_body(verifier: BillingGateway) -> None:
    payload = _body()
    header = _stripe_header(payload)
    tampered = payload.replace(b'"cancel_at_period_end": true', b'"cancel_at_period_end": false')
    assert tampered != payload

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, tampered, header)


def test_signed_with_another_secret(verifier: BillingGateway) -> None:
    payload = _body()

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, payload, _stripe_header(payload, secret="whsec_someone_else"))


def test_stale_timestamp(verifier: BillingGateway) -> None:
    payload = _body()
    header = _stripe_header(payload, at=int(time.time()) - TOLERANCE - 10)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, payload, header)


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=", "garbage", "t=1780000000", "v1=deadbeef", "t=notanumber,v1=deadbeef"],
)
def test_missing_or_malformed_header(verifier: BillingGateway, header: str) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, _body(), header)


def test_no_secret_configured_never_validates(verifier: BillingGateway) -> None:
    payload = _body()

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, payload, shapes.signature_header(payload, ""), secret="")


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'"a string"',
        json.dumps({"id": "evt_1", "object": "v2.core.event", "type": "x"}).encode(),
    ],
)
def test_correctly_signed_body_that_is_not_an_event(
    verifier: BillingGateway, payload: bytes
) -> None:
    header = shapes.signature_header(payload, WEBHOOK_SECRET)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, payload, header)


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"id": ""},
        {"type": None},
        {"data": None},
        {"data": {"previous_attributes": {}}},
        {"data": {"object": "sub_123"}},
        {"created": None},
    ],
)
def test_correctly_signed_event_without_id_type_or_object(
    verifier: BillingGateway, changes: dict[str, Any]
) -> None:
    event = {k: v for k, v in {**_event(), **changes}.items() if v is not None}
    payload = _body(event)

    with pytest.raises(WebhookSignatureInvalid):
        _construct(verifier, payload, _stripe_header(payload))


def test_a_tolerance_of_zero_is_refused(verifier: BillingGateway) -> None:
    # The SDK reads 0 as "never too old": replayed events would be accepted forever.
    payload = _body()

    with pytest.raises(ImproperlyConfigured):
        verifier.webhook_event_construct(
            payload, _stripe_header(payload), secret=WEBHOOK_SECRET, tolerance=0
        )

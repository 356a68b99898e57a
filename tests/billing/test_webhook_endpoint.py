"""The webhook endpoint refuses what it cannot verify or read: 400, and nothing stored."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from billing.models import Invoice, Subscription, WebhookEvent
from tests.billing.support import (
    NOW,
    event,
    invoice_obj,
    post_signed,
    subscription_created_event,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "stale", "malformed", "missing", "garbage", "body_changed"],
)
def test_unverifiable_webhooks_answer_400_and_change_nothing(customer, tamper):
    payload = subscription_created_event()
    client = Client()
    if tamper == "wrong_secret":
        response = post_signed(client, payload, secret="whsec_someone_else")
    elif tamper == "stale":
        response = post_signed(client, payload, timestamp=NOW - 301)
    elif tamper == "malformed":
        response = post_signed(client, payload, signature="t=abc,v1=00")
    elif tamper == "missing":
        response = post_signed(client, payload, signature="")
    elif tamper == "garbage":
        response = post_signed(client, b"not json at all")
    else:
        import json

        from django.conf import settings

        from billing.gateways.shapes import signature_header

        signed = signature_header(json.dumps(payload).encode(), settings.STRIPE_WEBHOOK_SECRET)
        payload["data"]["object"]["status"] = "canceled"
        response = post_signed(client, payload, signature=signed)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_signature",)
    assert not WebhookEvent.objects.exists()
    assert not Subscription.objects.exists()


def test_a_recent_timestamp_within_tolerance_is_accepted(customer):
    response = post_signed(Client(), subscription_created_event(), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"id": "sub_x", "items": "nope"},
        {
            "id": "sub_x",
            "customer": "cus_test_1",
            "items": {"data": [{"current_period_end": "soon"}]},
        },
    ],
)
def test_a_signed_but_malformed_event_is_400_and_stores_nothing(customer, obj):
    response = post_signed(Client(), event("customer.subscription.updated", obj, created=NOW))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_event"
    assert not WebhookEvent.objects.exists()
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"created": 10**12},
        {"id": "evt_" + "x" * 300},
        {"data": {"object": invoice_obj(customer="cus_test_1") | {"amount_due": -1}}},
        {"data": {"object": invoice_obj(customer="cus_test_1") | {"created": 10**20}}},
        {"data": {"object": invoice_obj(customer="cus_test_1", invoice_id="in_" + "x" * 300)}},
    ],
)
def test_signed_events_with_impossible_values_are_400(customer, change):
    payload = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    response = post_signed(Client(), payload | change)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert not Invoice.objects.exists()

"""The Stripe webhook: signatures, once-only events, order, and what each event does."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from billing.models import Invoice, Subscription, WebhookEvent, WebhookOutcome
from notifications.models import Message
from tests.billing.support import (
    NOW,
    become_member,
    customer_for,
    event,
    invoice_obj,
    post_signed,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(patient):
    return customer_for(patient)


def created_event(**overrides):
    return event(
        "customer.subscription.created",
        subscription_obj(customer="cus_test_1", **overrides),
        created=NOW,
    )


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "stale", "malformed", "missing", "garbage", "body_changed"],
)
def test_unverifiable_webhooks_answer_400_and_change_nothing(customer, tamper):
    payload = created_event()
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
    response = post_signed(Client(), created_event(), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_subscription_created_mirrors_the_subscription_reading_the_item_period(customer):
    period_end = NOW + 10 * 86400
    response = post_signed(Client(), created_event(period_end=period_end))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    subscription = Subscription.objects.get()
    assert subscription.patient == customer.patient
    assert subscription.status == "active"
    assert subscription.amount_cents == 25000
    assert subscription.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)


def test_period_end_falls_back_to_the_subscription_for_older_api_versions(customer):
    period_end = NOW + 5 * 86400
    post_signed(Client(), created_event(period_end=period_end, on_item=False))
    expected = datetime.fromtimestamp(period_end, tz=UTC)
    assert Subscription.objects.get().current_period_end == expected


def test_a_duplicate_event_answers_200_and_does_nothing(customer):
    payload = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    post_signed(Client(), created_event())
    first = post_signed(Client(), payload)
    audit_rows = AuditEvent.objects.count()
    messages = Message.objects.count()
    again = post_signed(Client(), payload)
    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert AuditEvent.objects.count() == audit_rows
    assert Message.objects.count() == messages == 4  # failed + reminder, SMS + email


def test_an_older_event_never_moves_the_mirror_backwards(customer):
    newer = event(
        "customer.subscription.updated",
        subscription_obj(customer="cus_test_1", status="past_due"),
        created=NOW + 60,
    )
    older = event(
        "customer.subscription.updated",
        subscription_obj(customer="cus_test_1", status="active"),
        created=NOW,
    )
    post_signed(Client(), newer)
    post_signed(Client(), older)
    assert Subscription.objects.get().status == "past_due"
    assert WebhookEvent.objects.get(event_id=older["id"]).outcome == WebhookOutcome.STALE


def test_deleted_ends_the_membership(customer):
    post_signed(Client(), created_event())
    deleted = event(
        "customer.subscription.deleted",
        subscription_obj(customer="cus_test_1", status="canceled"),
        created=NOW + 5,
    )
    post_signed(Client(), deleted)
    subscription = Subscription.objects.get()
    assert subscription.status == "canceled"
    assert subscription.canceled_at is not None


def test_other_event_types_are_stored_and_acknowledged(customer):
    payload = event("customer.updated", {"id": "cus_test_1", "object": "customer"}, created=NOW)
    response = post_signed(Client(), payload)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.UNHANDLED


def test_events_for_a_customer_we_do_not_know_are_acknowledged_without_effect(db):
    response = post_signed(Client(), created_event())
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.UNKNOWN_CUSTOMER
    assert not Subscription.objects.exists()


def test_invoice_paid_is_mirrored_with_its_period_and_link(customer):
    post_signed(Client(), created_event())
    paid = event("invoice.paid", invoice_obj(customer="cus_test_1", status="paid"), created=NOW)
    post_signed(Client(), paid)
    invoice = Invoice.objects.get()
    assert invoice.subscription == Subscription.objects.get()
    assert (invoice.status, invoice.amount_paid_cents, invoice.number) == (
        "paid",
        25000,
        "TEST-0001",
    )
    assert invoice.period_end == datetime.fromtimestamp(NOW + 30 * 86400, tz=UTC)
    assert invoice.hosted_invoice_url == "https://invoice.stripe.test/i/1"


def test_webhook_events_keep_no_payload(customer):
    """The payload carries the customer's email; only ids, type and time are kept."""
    post_signed(Client(), created_event())
    row = WebhookEvent.objects.values().get()
    assert set(row) == {"event_id", "type", "object_id", "created", "received_at", "outcome"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_have_one_effect(patient):
    customer_for(patient)
    post_signed(Client(), created_event())
    payload = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    barrier = threading.Barrier(4)
    answers: list[dict] = []

    def deliver() -> None:
        try:
            barrier.wait()
            answers.append(post_signed(Client(), payload).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer["duplicate"] for answer in answers) == [False, True, True, True]
    assert WebhookEvent.objects.filter(event_id=payload["id"]).count() == 1
    assert AuditEvent.objects.filter(object_type="billing.invoice").count() == 1
    assert Invoice.objects.get().payment_failed_at is not None
    assert Message.objects.filter(template_key="payment_failed").count() == 2
    assert Message.objects.filter(template_key="payment_reminder").count() == 2


def test_events_of_the_same_second_are_settled_by_asking_the_gateway(patient):
    """Checkout often sends subscription.created (incomplete) and .updated (active) in the
    same second, in either order: the mirror must end where the gateway is."""
    subscription = become_member(patient)
    second = int(subscription.last_event_at.timestamp())
    late_created = event(
        "customer.subscription.created",
        subscription_obj(
            customer=subscription.patient.billing_customer.gateway_customer_id,
            sub_id=subscription.gateway_subscription_id,
            status="incomplete",
        ),
        created=second,
    )
    assert post_signed(Client(), late_created).status_code == 200
    assert Subscription.objects.get().status == "active"


def test_a_gateway_outage_while_settling_an_event_answers_503_and_keeps_nothing(patient, settings):
    customer_for(patient)
    post_signed(Client(), created_event())
    tie = event(
        "customer.subscription.updated",
        subscription_obj(customer="cus_test_1", status="past_due"),
        created=NOW,
    )
    # The local gateway has never heard of sub_test_1: the refetch fails.
    response = post_signed(Client(), tie)
    assert response.status_code == 503
    assert not WebhookEvent.objects.filter(event_id=tie["id"]).exists()
    assert Subscription.objects.get().status == "active"


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


def test_paying_an_older_invoice_keeps_the_membership_past_due_while_a_newer_one_is_unpaid(
    customer,
):
    client = Client()
    post_signed(client, created_event())
    for invoice_id, offset in (("in_1", 10), ("in_2", 20)):
        failed = invoice_obj(customer="cus_test_1", invoice_id=invoice_id, created=NOW + offset)
        post_signed(client, event("invoice.payment_failed", failed, created=NOW + offset))
    paid = invoice_obj(customer="cus_test_1", invoice_id="in_1", status="paid", created=NOW + 10)
    post_signed(client, event("invoice.paid", paid, created=NOW + 30))
    assert Subscription.objects.get().status == "past_due"


def test_a_refetched_state_is_not_undone_by_an_older_event(patient):
    from billing.models import LocalGatewayObject

    subscription = become_member(patient)
    second = int(subscription.last_event_at.timestamp())
    customer_id = patient.patient.billing_customer.gateway_customer_id
    at_gateway = LocalGatewayObject.objects.get(object_id=subscription.gateway_subscription_id)
    at_gateway.data = {**at_gateway.data, "status": "canceled", "ended_at": second + 100}
    at_gateway.save()
    sub_id = subscription.gateway_subscription_id
    tie = subscription_obj(customer=customer_id, sub_id=sub_id)
    older = subscription_obj(customer=customer_id, sub_id=sub_id, cancel_at_period_end=True)
    # The tie is settled at second + 100; an event of second + 50 arrives after that.
    with time_machine.travel(second + 100):
        post_signed(Client(), event("customer.subscription.updated", tie, created=second))
        post_signed(Client(), event("customer.subscription.updated", older, created=second + 50))
    assert Subscription.objects.get().status == "canceled"


def test_an_invoice_that_arrives_before_its_subscription_is_linked_when_it_arrives(customer):
    failed = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    post_signed(Client(), failed)
    assert Invoice.objects.get().subscription is None
    post_signed(Client(), created_event())
    assert Invoice.objects.get().subscription == Subscription.objects.get()


def test_a_payment_needing_the_patients_confirmation_asks_for_it(customer):
    post_signed(Client(), created_event())
    action = event(
        "invoice.payment_action_required", invoice_obj(customer="cus_test_1"), created=NOW
    )
    post_signed(Client(), action)
    templates = set(Message.objects.values_list("template_key", flat=True))
    assert templates == {"payment_action_required", "payment_reminder"}
    assert Subscription.objects.get().status == "past_due"

"""Each webhook event is applied once: duplicates and concurrent deliveries, what is
kept of an event, and a failed effect that keeps nothing so the retry applies it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from billing.models import Invoice, Subscription, WebhookEvent, WebhookOutcome
from notifications.models import Message
from tests.billing.support import (
    NOW,
    customer_for,
    event,
    invoice_obj,
    post_signed,
    subscription_created_event,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


def test_a_duplicate_event_answers_200_and_does_nothing(customer):
    payload = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    post_signed(Client(), subscription_created_event())
    first = post_signed(Client(), payload)
    audit_rows = AuditEvent.objects.count()
    messages = Message.objects.count()
    again = post_signed(Client(), payload)
    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert AuditEvent.objects.count() == audit_rows
    assert Message.objects.count() == messages == 4  # failed + reminder, SMS + email


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_have_one_effect(patient):
    customer_for(patient)
    post_signed(Client(), subscription_created_event())
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


def test_webhook_events_keep_no_payload(customer):
    """The payload carries the customer's email; only ids, type and time are kept."""
    post_signed(Client(), subscription_created_event())
    row = WebhookEvent.objects.values().get()
    assert set(row) == {"event_id", "type", "object_id", "created", "received_at", "outcome"}


def test_other_event_types_are_stored_and_acknowledged(customer):
    payload = event("customer.updated", {"id": "cus_test_1", "object": "customer"}, created=NOW)
    response = post_signed(Client(), payload)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.UNHANDLED


def test_events_for_a_customer_we_do_not_know_are_acknowledged_without_effect(db):
    response = post_signed(Client(), subscription_created_event())
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.UNKNOWN_CUSTOMER
    assert not Subscription.objects.exists()


def test_a_gateway_outage_while_settling_an_event_answers_503_and_keeps_nothing(patient, settings):
    customer_for(patient)
    post_signed(Client(), subscription_created_event())
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

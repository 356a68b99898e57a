"""What the invoice events do: the invoice mirrored, dunning opened and closed, and the
subscription following its invoices until its own event arrives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from billing.models import Invoice, Subscription
from notifications.models import Message
from tests.billing.support import (
    NOW,
    event,
    invoice_obj,
    post_signed,
    subscription_created_event,
)

pytestmark = pytest.mark.django_db


def test_invoice_paid_is_mirrored_with_its_period_and_link(customer):
    post_signed(Client(), subscription_created_event())
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


def test_paying_an_older_invoice_keeps_the_membership_past_due_while_a_newer_one_is_unpaid(
    customer,
):
    client = Client()
    post_signed(client, subscription_created_event())
    for invoice_id, offset in (("in_1", 10), ("in_2", 20)):
        failed = invoice_obj(customer="cus_test_1", invoice_id=invoice_id, created=NOW + offset)
        post_signed(client, event("invoice.payment_failed", failed, created=NOW + offset))
    paid = invoice_obj(customer="cus_test_1", invoice_id="in_1", status="paid", created=NOW + 10)
    post_signed(client, event("invoice.paid", paid, created=NOW + 30))
    assert Subscription.objects.get().status == "past_due"


def test_an_invoice_that_arrives_before_its_subscription_is_linked_when_it_arrives(customer):
    failed = event("invoice.payment_failed", invoice_obj(customer="cus_test_1"), created=NOW)
    post_signed(Client(), failed)
    assert Invoice.objects.get().subscription is None
    post_signed(Client(), subscription_created_event())
    assert Invoice.objects.get().subscription == Subscription.objects.get()


def test_a_payment_needing_the_patients_confirmation_asks_for_it(customer):
    post_signed(Client(), subscription_created_event())
    action = event(
        "invoice.payment_action_required", invoice_obj(customer="cus_test_1"), created=NOW
    )
    post_signed(Client(), action)
    templates = set(Message.objects.values_list("template_key", flat=True))
    assert templates == {"payment_action_required", "payment_reminder"}
    assert Subscription.objects.get().status == "past_due"

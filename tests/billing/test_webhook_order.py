"""Webhook events out of order: an older event never moves the mirror backwards, and
events of the same second are settled by asking the gateway."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from billing.models import LocalGatewayObject, Subscription, WebhookEvent, WebhookOutcome
from tests.billing.support import (
    NOW,
    become_member,
    event,
    post_signed,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


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


def test_a_refetched_state_is_not_undone_by_an_older_event(patient):
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

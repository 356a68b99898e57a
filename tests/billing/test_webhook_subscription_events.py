"""What the subscription events do to the mirror."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from billing.models import Subscription
from tests.billing.support import (
    NOW,
    event,
    post_signed,
    subscription_created_event,
    subscription_obj,
)

pytestmark = pytest.mark.django_db


def test_subscription_created_mirrors_the_subscription_reading_the_item_period(customer):
    period_end = NOW + 10 * 86400
    response = post_signed(Client(), subscription_created_event(period_end=period_end))
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    subscription = Subscription.objects.get()
    assert subscription.patient == customer.patient
    assert subscription.status == "active"
    assert subscription.amount_cents == 25000
    assert subscription.current_period_end == datetime.fromtimestamp(period_end, tz=UTC)


def test_period_end_falls_back_to_the_subscription_for_older_api_versions(customer):
    period_end = NOW + 5 * 86400
    post_signed(Client(), subscription_created_event(period_end=period_end, on_item=False))
    expected = datetime.fromtimestamp(period_end, tz=UTC)
    assert Subscription.objects.get().current_period_end == expected


def test_deleted_ends_the_membership(customer):
    post_signed(Client(), subscription_created_event())
    deleted = event(
        "customer.subscription.deleted",
        subscription_obj(customer="cus_test_1", status="canceled"),
        created=NOW + 5,
    )
    post_signed(Client(), deleted)
    subscription = Subscription.objects.get()
    assert subscription.status == "canceled"
    assert subscription.canceled_at is not None

"""Status webhooks under concurrency, on PostgreSQL with real threads: the same event
delivered twice at once applies once; two different events for one order both apply,
one after the other."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from prescriptions.models import DeliveryEvent, OrderStatus, StatusReport
from tests.concurrency import race
from tests.prescriptions.support_pharmacy import from_carrier, new_order, shipped_fields

pytestmark = pytest.mark.django_db(transaction=True)

S = OrderStatus


def test_the_same_event_delivered_concurrently_applies_once(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    when = (timezone.now() - timedelta(minutes=1)).isoformat()
    responses = race([lambda: from_carrier(order.tracking_number, "c-1", "delivered", when)] * 6)
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["applied"] + ["duplicate"] * 5
    assert StatusReport.objects.count() == 1
    assert DeliveryEvent.objects.filter(order=order, to_status=S.DELIVERED).count() == 1


def test_two_events_for_one_order_at_once_both_count(patient, physician):
    order = new_order(patient, physician, status=S.SHIPPED, **shipped_fields())
    earlier = (timezone.now() - timedelta(minutes=5)).isoformat()
    later = (timezone.now() - timedelta(minutes=1)).isoformat()
    responses = race(
        [
            lambda: from_carrier(order.tracking_number, "c-1", "out_for_delivery", earlier),
            lambda: from_carrier(order.tracking_number, "c-2", "delivered", later),
        ]
    )
    assert all(r.status_code == 200 for r in responses), responses
    order.refresh_from_db()
    assert order.status == S.DELIVERED
    # Whichever came first, nothing was lost: the other is applied or stale, never left.
    assert not StatusReport.objects.filter(applied_at__isnull=True, ignored_reason="").exists()

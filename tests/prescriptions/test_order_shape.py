"""An order's answer is OrderOut, value for value: the plain dict the views send
(order_body) equals the documented serializer's output, rendered, for an order just made
(its timeline given), one shipped with a carrier and one delivered (timeline read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction
from rest_framework.renderers import JSONRenderer

from prescriptions.api.orders import OrderOut, order_body, order_detail
from prescriptions.models import DeliveryEvent, EventSource, OrderKind
from prescriptions.services.orders import order_make, order_transition
from tests.prescriptions.support import carrier, pharmacy, prescription_for

pytestmark = pytest.mark.django_db


def rendered(data: object) -> Any:
    return json.loads(JSONRenderer().render(data))


def assert_same_shape(order, timeline=None) -> None:
    documented = rendered(OrderOut(order_detail(order, timeline)).data)
    sent = rendered(order_body(order, timeline))
    assert sent == documented
    assert set(sent) == set(OrderOut().fields)


def test_the_answer_is_the_documented_shape(patient, physician):
    pharmacy()
    prescription = prescription_for(patient, physician)
    with transaction.atomic():
        order, event = order_make(
            prescription=prescription,
            patient=prescription.patient,
            kind=OrderKind.FIRST_FILL,
            fill_number=0,
            source=EventSource.SYSTEM,
            actor=None,
        )
    assert_same_shape(order, [event])
    assert_same_shape(order)

    at = datetime(2026, 12, 3, 14, 30, 5, 123456, tzinfo=UTC)
    for status in ("sent_to_pharmacy", "shipped"):
        order = order_transition(
            order=order,
            to=status,
            source=EventSource.PHARMACY,
            at=at,
            carrier=carrier() if status == "shipped" else None,
            tracking_number="1Z999" if status == "shipped" else "",
        )
    assert_same_shape(order)
    order = order_transition(
        order=order, to="delivered", source=EventSource.CARRIER, signed_by="Front desk"
    )
    assert_same_shape(order, list(DeliveryEvent.objects.filter(order=order).order_by("at", "pk")))
    assert rendered(order_body(order))["tracking_url"].endswith("/1Z999")

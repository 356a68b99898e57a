"""Delivery orders: every status change the lifecycle allows, every one it refuses, the
event row each writes, and where an order may be made at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict
from prescriptions.models import (
    DeliveryEvent,
    DeliveryOrder,
    EventSource,
    OrderKind,
    OrderStatus,
    PharmacySubmission,
)
from prescriptions.services.orders import ALLOWED_TRANSITIONS, order_create, order_transition
from tests.prescriptions.support import carrier, pharmacy, prescription_for

pytestmark = pytest.mark.django_db

S = OrderStatus
ALL_PAIRS = [(a, b) for a in S.values for b in S.values]


def order_at(status: str, patient, physician) -> DeliveryOrder:
    pharmacy()
    prescription = prescription_for(patient, physician)
    order = order_create(
        prescription=prescription,
        patient=patient.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )
    DeliveryOrder.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(("start", "to"), ALL_PAIRS)
def test_each_status_change_is_allowed_or_refused_by_the_table(start, to, patient, physician):
    order = order_at(start, patient, physician)
    events_before = order.events.count()
    if to in ALLOWED_TRANSITIONS[start]:
        changed = order_transition(
            order=order,
            to=to,
            source=EventSource.OPS_ADMIN,
            actor=None,
            carrier=carrier(),
            tracking_number="1Z999",
        )
        assert changed.status == to
        event = order.events.latest("pk")
        assert (event.from_status, event.to_status, event.source) == (start, to, "ops_admin")
    else:
        with pytest.raises(Conflict) as refused:
            order_transition(order=order, to=to, source=EventSource.OPS_ADMIN)
        assert refused.value.code == "invalid_transition"
        order.refresh_from_db()
        assert order.status == start
        assert order.events.count() == events_before


def test_final_statuses_go_nowhere():
    assert {s for s, onward in ALLOWED_TRANSITIONS.items() if not onward} == {
        S.DELIVERED,
        S.RETURNED,
        S.CANCELED,
    }


@pytest.mark.parametrize("to", [S.OUT_FOR_DELIVERY, S.DELIVERED])
@pytest.mark.parametrize("shipped_days_ago", [None, 7])
def test_on_its_way_from_an_exception_it_was_shipped_then_at_the_latest(
    to, shipped_days_ago, patient, physician
):
    order = order_at(S.EXCEPTION, patient, physician)
    now = timezone.now()
    shipped = None if shipped_days_ago is None else now - timedelta(days=shipped_days_ago)
    DeliveryOrder.objects.filter(pk=order.pk).update(shipped_at=shipped)
    order.refresh_from_db()
    at = now - timedelta(days=6)
    moved = order_transition(order=order, to=to, source=EventSource.CARRIER, at=at)
    assert moved.shipped_at == (shipped or at)  # a real one stays


def test_shipping_needs_tracking(patient, physician):
    order = order_at(S.COMPOUNDING, patient, physician)
    with pytest.raises(Conflict) as refused:
        order_transition(order=order, to=S.SHIPPED, source=EventSource.PHARMACY)
    assert refused.value.code == "tracking_required"


def test_milestones_are_stamped(patient, physician):
    order = order_at(S.CREATED, patient, physician)
    order = order_transition(order=order, to=S.SENT_TO_PHARMACY, source=EventSource.SYSTEM)
    order = order_transition(
        order=order,
        to=S.SHIPPED,
        source=EventSource.PHARMACY,
        carrier=carrier(),
        tracking_number="1Z999",
    )
    order = order_transition(
        order=order, to=S.DELIVERED, source=EventSource.CARRIER, signed_by="J RIVERS"
    )
    order.refresh_from_db()
    assert order.sent_to_pharmacy_at and order.shipped_at and order.delivered_at
    assert order.delivered_signed_by == "J RIVERS"
    assert order.tracking_number == "1Z999"
    assert [e.to_status for e in order.events.order_by("pk")] == [
        S.CREATED,
        S.SENT_TO_PHARMACY,
        S.SHIPPED,
        S.DELIVERED,
    ]


def test_an_order_snapshots_the_address_and_queues_its_hand_off(patient, physician):
    order = order_at(S.CREATED, patient, physician)
    record = patient.patient
    assert (order.ship_to_line1, order.ship_to_city, order.ship_to_state) == (
        record.address_line1,
        record.city,
        "FL",
    )
    record.address_line1 = "9 Elsewhere Rd"
    record.save()
    order.refresh_from_db()
    assert order.ship_to_line1 == "1 Main St"
    assert PharmacySubmission.objects.filter(order=order, status="pending").exists()


def test_no_pharmacy_for_the_state_is_refused_and_nothing_is_written(patient, physician):
    pharmacy(ships_to=("NJ",))
    prescription = prescription_for(patient, physician)
    with pytest.raises(Conflict) as refused:
        order_create(
            prescription=prescription,
            patient=patient.patient,
            kind=OrderKind.FIRST_FILL,
            fill_number=0,
            source=EventSource.SYSTEM,
            actor=None,
        )
    assert refused.value.code == "no_pharmacy_for_state"
    assert not DeliveryOrder.objects.exists()
    assert not DeliveryEvent.objects.exists()


def test_an_incomplete_address_is_refused(patient, physician):
    pharmacy()
    prescription = prescription_for(patient, physician)
    patient.patient.zip_code = ""
    patient.patient.save()
    with pytest.raises(Conflict) as refused:
        order_create(
            prescription=prescription,
            patient=patient.patient,
            kind=OrderKind.REFILL,
            fill_number=1,
            source=EventSource.PATIENT,
            actor=patient,
        )
    assert refused.value.code == "ship_to_invalid"
    assert refused.value.fields == {"address": ["zip_code is missing."]}


def test_one_order_per_fill(patient, physician):
    order = order_at(S.CREATED, patient, physician)
    with pytest.raises(Conflict) as refused:
        order_create(
            prescription=order.prescription,
            patient=patient.patient,
            kind=OrderKind.FIRST_FILL,
            fill_number=0,
            source=EventSource.SYSTEM,
            actor=None,
        )
    assert refused.value.code == "fill_exists"
    assert DeliveryOrder.objects.count() == 1


def test_a_refill_never_ships_to_another_state_than_the_prescriptions(patient, physician):
    """Written under Florida's license and registrations: after a move to New Jersey the
    patient needs a New Jersey prescription."""
    order = order_at(S.DELIVERED, patient, physician)
    record = patient.patient
    record.state, record.county = "NJ", "Bergen"
    record.save()
    with pytest.raises(Conflict) as refused:
        order_create(
            prescription=order.prescription,
            patient=record,
            kind=OrderKind.REFILL,
            fill_number=1,
            source=EventSource.PATIENT,
            actor=patient,
        )
    assert refused.value.code == "ship_to_state_changed"
    assert DeliveryOrder.objects.count() == 1

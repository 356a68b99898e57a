"""A fill order canceled before it shipped was never dispensed: it uses up no refill and
dates nothing, while the next order still takes the next fill number. One canceled after
it shipped, one returned, and one canceled because ops replaced it all count. The
prescription's `refills_remaining` says the same."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from prescriptions.models import DeliveryOrder, OrderStatus
from prescriptions.services.ops import order_replacement_create
from tests.actors import client_for
from tests.prescriptions.support_refill import (
    EARLIEST,
    NOW,
    fill,
    prescription_filled,
    ready_for_refill,
    reasons,
    refill,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ready(patient, physician, clock):
    """Two refills; the first fill left at NOW and the first refill was delivered (sent
    at NOW too): one refill left, from EARLIEST."""
    ready_for_refill(patient)
    prescription = prescription_filled(patient, physician)
    fill(prescription, number=1, status=OrderStatus.DELIVERED, created_at=NOW, sent_at=NOW)
    return prescription


def second_refill(prescription, **changes) -> DeliveryOrder:
    """The second refill, sent ten days after NOW, then changed by `changes`."""
    later = NOW + timedelta(days=10)
    order = fill(prescription, number=2, created_at=later, sent_at=later)
    DeliveryOrder.objects.filter(pk=order.pk).update(**changes)
    order.refresh_from_db()
    return order


def remaining(patient, prescription) -> int:
    url = f"/api/prescriptions/prescriptions/{prescription.public_id}"
    response = client_for(patient).get(url)
    assert response.status_code == 200, response.content
    return int(response.json()["refills_remaining"])


def test_a_fill_canceled_before_it_shipped_uses_up_nothing(patient, ready, clock):
    second_refill(ready, status=OrderStatus.CANCELED)
    assert remaining(patient, ready) == 1
    clock.move_to(EARLIEST)

    response = refill(patient, ready)
    assert response.status_code == 201, response.content
    assert response.json()["fill_number"] == 3
    assert remaining(patient, ready) == 0


def test_an_order_canceled_from_an_exception_before_shipping_uses_up_nothing(patient, ready, clock):
    order = second_refill(ready, status=OrderStatus.EXCEPTION)
    DeliveryOrder.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELED)
    clock.move_to(EARLIEST)

    assert refill(patient, ready).json()["fill_number"] == 3


def test_a_fill_canceled_after_it_shipped_counts(patient, ready, clock):
    """Shipped, lost (exception), then canceled: the pharmacy dispensed it."""
    shipped = NOW + timedelta(days=11)
    second_refill(ready, status=OrderStatus.CANCELED, shipped_at=shipped)
    assert remaining(patient, ready) == 0
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["no_refills_remaining", "refill_too_early"]


def test_a_returned_fill_counts(patient, ready, clock):
    second_refill(ready, status=OrderStatus.RETURNED, shipped_at=NOW + timedelta(days=11))
    assert remaining(patient, ready) == 0
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["no_refills_remaining", "refill_too_early"]


def test_a_fill_canceled_because_it_was_replaced_counts(patient, ready, clock, ops_admin):
    """An exception at the pharmacy, replaced by ops: the original is canceled before it
    shipped, but its replacement carries the fill to the patient."""
    order = second_refill(ready, status=OrderStatus.EXCEPTION)
    order_replacement_create(order=order, actor=ops_admin, reason="The pharmacy lost it.")
    order.refresh_from_db()
    assert (order.status, order.shipped_at) == (OrderStatus.CANCELED, None)
    assert remaining(patient, ready) == 0
    clock.move_to(EARLIEST)

    assert reasons(refill(patient, ready)) == ["no_refills_remaining", "refill_too_early"]


def test_a_canceled_first_fill_dates_nothing(patient, physician, clock):
    """The first fill, sent five days after the signature, canceled before it shipped:
    the earliest refill counts from the signature, and the next order is fill 1."""
    ready_for_refill(patient)
    prescription = prescription_filled(patient, physician)
    assert prescription.signed_at <= NOW
    DeliveryOrder.objects.update(
        status=OrderStatus.CANCELED, sent_to_pharmacy_at=NOW + timedelta(days=5)
    )
    clock.move_to(EARLIEST)

    response = refill(patient, prescription)
    assert response.status_code == 201, response.content
    assert response.json()["fill_number"] == 1

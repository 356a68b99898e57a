"""Who sees which prescriptions and orders (prescriptions.selectors.scoping)."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from prescriptions.models import EventSource, OrderKind
from prescriptions.selectors.scoping import (
    order_visible_to,
    orders_visible_to,
    prescription_visible_to,
    prescriptions_visible_to,
)
from prescriptions.services.orders import order_create
from tests.actors import actor_user
from tests.prescriptions.support import pharmacy, prescription_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(patient, physician):
    pharmacy()
    return order_create(
        prescription=prescription_for(patient, physician),
        patient=patient.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )


@pytest.mark.parametrize(
    ("viewer", "sees_prescription", "sees_order"),
    [
        ("patient", True, True),
        ("other_patient", False, False),
        ("physician", True, True),
        ("physician_licensed_elsewhere", False, False),  # licensed in NJ; the patient is in FL
        ("ops_admin", False, True),
    ],
)
def test_who_sees_what(request, order, viewer, sees_prescription, sees_order):
    user = actor_user(request, viewer)
    prescription = order.prescription
    assert prescriptions_visible_to(user).filter(pk=prescription.pk).exists() is sees_prescription
    assert orders_visible_to(user).filter(pk=order.pk).exists() is sees_order
    if not sees_prescription:
        with pytest.raises(NotFound):
            prescription_visible_to(user, prescription.public_id)
    if not sees_order:
        with pytest.raises(NotFound):
            order_visible_to(user, order.public_id)

"""Prescriptions' permission matrix: every endpoint x role, with today's status. Each
resource keeps its rows, setups and bodies in its own block."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.prescriptions.support import carrier, pharmacy
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, Any] = {}

# --- refills and the patients' and physicians' orders (h11-refill) ---------------------
# The `patient` actor's prescription (FL, by a "Matrix" physician) and its first fill. The
# `physician` actor treats in FL and sees them; the one licensed elsewhere does not (404,
# an empty list). Ops admins track orders through the ops endpoints: 403 here. A refill
# is the patient's alone; theirs is refused today (409: too early, not cleared).
MATRIX |= {
    ("POST", "prescriptions-refill"): statuses(401, 409, 404, 403, 403, 403),
    ("GET", "prescriptions-order-list"): statuses(401, 200, 200, 200, 200, 403),
    ("GET", "prescriptions-order-detail"): statuses(401, 200, 404, 404, 200, 403),
}


def _matrix_first_fill(owner: Any) -> Any:
    from prescriptions.models import EventSource, OrderKind
    from prescriptions.services.orders import order_create
    from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory
    from tests.prescriptions.support import pharmacy, prescription_for

    doctor = PhysicianFactory(last_name="Matrix")
    LicenseFactory(physician=doctor, state="FL")
    DeaFactory(physician=doctor, state="FL")
    pharmacy()
    prescription = prescription_for(owner, doctor)
    return order_create(
        prescription=prescription,
        patient=owner.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )


def _matrix_prescription(owner: Any) -> dict[str, Any]:
    return {"public_id": _matrix_first_fill(owner).prescription.public_id}


def _matrix_orders(owner: Any) -> dict[str, Any]:
    _matrix_first_fill(owner)
    return {}


def _matrix_order(owner: Any) -> dict[str, Any]:
    return {"public_id": _matrix_first_fill(owner).public_id}


SETUPS |= {
    "prescriptions-refill": _matrix_prescription,
    "prescriptions-order-list": _matrix_orders,
    "prescriptions-order-detail": _matrix_order,
}
# --- end of refills and orders (h11-refill) ---------------------------------------------

# --- ops delivery tracking (h11-ops): ops admins only --------------------------------------
OPS_ONLY = statuses(401, 403, 403, 403, 403, 200)
MATRIX |= {
    ("GET", "ops-deliveries"): OPS_ONLY,
    ("GET", "ops-delivery-counts"): OPS_ONLY,
    ("GET", "ops-delivery-export"): OPS_ONLY,
    ("GET", "ops-delivery-detail"): OPS_ONLY,
    ("POST", "ops-delivery-exception"): OPS_ONLY,
    ("POST", "ops-delivery-replacement"): statuses(401, 403, 403, 403, 403, 201),
    ("POST", "ops-delivery-notes"): statuses(401, 403, 403, 403, 403, 201),
}


def _an_order(owner: Any) -> dict[str, Any]:
    order_for(owner)
    return {}


def _order(owner: Any) -> dict[str, Any]:
    return {"public_id": order_for(owner).public_id}


def _lost_order(owner: Any) -> dict[str, Any]:
    return {"public_id": order_for(owner, status="exception").public_id}


SETUPS |= {
    "ops-deliveries": _an_order,
    "ops-delivery-counts": _an_order,
    "ops-delivery-export": _an_order,
    "ops-delivery-detail": _order,
    "ops-delivery-exception": _order,
    "ops-delivery-replacement": _lost_order,
    "ops-delivery-notes": _order,
}
BODIES |= {
    ("POST", "ops-delivery-exception"): {"reason": "Carrier reports the parcel lost."},
    ("POST", "ops-delivery-replacement"): {"reason": "Lost in transit."},
    ("POST", "ops-delivery-notes"): {"note": "Called the pharmacy.\nThey will ship today."},
}
# --- end ops delivery tracking -------------------------------------------------------------

# --- status webhooks (pharmacies, carriers): signed by the sender only, so an unsigned
# report is 403 for every role, signed in or not (and nothing is stored: test_webhooks).
_REPORT = {"event_id": "evt-1", "status": "compounding", "occurred_at": "2026-12-01T12:00:00Z"}
MATRIX |= {
    ("POST", "prescriptions-webhook-pharmacy"): statuses(403, 403, 403, 403, 403, 403),
    ("POST", "prescriptions-webhook-carrier"): statuses(403, 403, 403, 403, 403, 403),
}
SETUPS |= {
    "prescriptions-webhook-pharmacy": lambda owner: {"pharmacy_id": pharmacy().public_id},
    "prescriptions-webhook-carrier": lambda owner: {"code": carrier("ups").code},
}
BODIES |= {
    ("POST", "prescriptions-webhook-pharmacy"): {**_REPORT, "order_number": "KD-23456789"},
    ("POST", "prescriptions-webhook-carrier"): {**_REPORT, "tracking_number": "1Z999"},
}
# --- end of status webhooks


def test_every_prescriptions_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "prescriptions")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)

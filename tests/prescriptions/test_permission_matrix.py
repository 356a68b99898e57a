"""Prescriptions' permission matrix: every endpoint x role, with today's status. Each
resource keeps its rows, setups and bodies in its own block."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.prescriptions.support_ops import order_for

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, Any] = {}

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


def test_every_prescriptions_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "prescriptions")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)

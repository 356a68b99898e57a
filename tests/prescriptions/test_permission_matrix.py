"""Prescriptions' permission matrix: every endpoint x role, with today's status. Each
resource keeps its rows, setups and bodies in its own block."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.prescriptions.support import carrier, pharmacy

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, Any] = {}

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

"""Scheduling's permission matrix: every endpoint x role, with today's status. Objects in
the URLs belong to the `patient` actor, with the `physician` actor as their physician
(both FL); `physician_licensed_elsewhere` is another physician, `other_patient` another
patient."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import PhysicianProfile
from scheduling.models import AppointmentStatus
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # --- video visit: join, start, complete (the visit's patient / physician only) ---
    ("GET", "appointment-join"): statuses(401, 200, 404, 404, 200, 404),
    ("POST", "appointment-start"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "appointment-complete"): statuses(401, 403, 403, 404, 200, 403),
    # --- end of video visit ---
}


def setups_for(physician: PhysicianProfile) -> dict[str, Any]:
    """Per URL name: what the row needs, made for the `patient` actor and `physician`."""

    # --- video visit ---
    def visit_open_now(owner: Any) -> dict[str, Any]:
        return {"public_id": visit_in(owner, physician, 5).public_id}

    def visit_in_progress(owner: Any) -> dict[str, Any]:
        visit = visit_in(owner, physician, -5, status=AppointmentStatus.IN_PROGRESS)
        return {"public_id": visit.public_id}

    return {
        "appointment-join": visit_open_now,
        "appointment-start": visit_open_now,
        "appointment-complete": visit_in_progress,
        # --- end of video visit ---
    }


BODIES: dict[Row, dict[str, Any]] = {
    # --- video visit ---
    ("POST", "appointment-start"): {"confirmed_state": "FL"},
    ("POST", "appointment-complete"): {"note": "Seen by video.", "standard_of_care_attested": True},
    # --- end of video visit ---
}


def test_every_scheduling_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "scheduling")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, physician, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=setups_for(physician), bodies=BODIES)

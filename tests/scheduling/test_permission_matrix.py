"""Scheduling's permission matrix: every endpoint x role, with today's status. The rows'
URLs name the `patient` actor (Florida); the physician licensed only in New Jersey cannot
see them (404), like another patient's id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # check-in cadence
    ("GET", "scheduling-patient-cadence"): statuses(401, 403, 403, 404, 200, 200),
    ("PUT", "scheduling-patient-cadence"): statuses(401, 403, 403, 404, 200, 200),
    ("GET", "scheduling-my-cadence"): statuses(401, 200, 200, 403, 403, 403),
    # end of check-in cadence
}


def patient_url(owner: Any) -> dict[str, Any]:
    return {"public_id": owner.patient.public_id}


SETUPS = {
    # check-in cadence
    "scheduling-patient-cadence": patient_url,
    # end of check-in cadence
}
BODIES: dict[Row, dict[str, Any]] = {
    # check-in cadence
    ("PUT", "scheduling-patient-cadence"): {"interval_days": 14},
    # end of check-in cadence
}


def test_every_scheduling_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "scheduling")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)

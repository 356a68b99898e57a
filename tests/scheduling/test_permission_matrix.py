"""Scheduling's permission matrix: every endpoint x role, with today's status. Each
resource's rows, setups and bodies are one block, named in a comment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from scheduling.models import AvailabilityOverride
from tests.factories import LicenseFactory, PhysicianFactory
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch

pytestmark = pytest.mark.django_db

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {}
SETUPS: dict[str, Any] = {}
BODIES: dict[Row, dict[str, Any]] = {}


# --- Availability and public physician profiles (h10-avail) ---------------------------
# The named-physician routes name a third physician ("Matrix"): the `physician` actors
# reach only their own schedule (404 here), ops admins any.
MATRIX |= {
    ("GET", "scheduling-physicians"): statuses(401, 200, 200, 200, 200, 200),
    ("GET", "scheduling-physician"): statuses(401, 200, 200, 200, 200, 200),
    ("GET", "scheduling-my-schedule"): statuses(401, 403, 403, 200, 200, 403),
    ("PUT", "scheduling-my-schedule"): statuses(401, 403, 403, 200, 200, 403),
    ("GET", "scheduling-my-overrides"): statuses(401, 403, 403, 200, 200, 403),
    ("POST", "scheduling-my-overrides"): statuses(401, 403, 403, 201, 201, 403),
    ("DELETE", "scheduling-my-override"): statuses(401, 403, 403, 404, 404, 403),
    ("GET", "scheduling-schedule"): statuses(401, 403, 403, 404, 404, 200),
    ("PUT", "scheduling-schedule"): statuses(401, 403, 403, 404, 404, 200),
    ("GET", "scheduling-overrides"): statuses(401, 403, 403, 404, 404, 200),
    ("POST", "scheduling-overrides"): statuses(401, 403, 403, 404, 404, 201),
    ("DELETE", "scheduling-override"): statuses(401, 403, 403, 404, 404, 204),
}


def _matrix_doctor() -> Any:
    doctor = PhysicianFactory(last_name="Matrix")
    LicenseFactory(physician=doctor, state="FL")
    return doctor


def matrix_physician(owner: Any) -> dict[str, Any]:
    return {"physician_id": _matrix_doctor().user.public_id}


def matrix_public_profile(owner: Any) -> dict[str, Any]:
    # As text: a UUID in the URL counts as a trace of the `patient` actor for the leak
    # check, and a public profile shows its own (a physician's) id to everyone by design.
    return {"physician_id": str(_matrix_doctor().user.public_id)}


def matrix_physician_listed(owner: Any) -> dict[str, Any]:
    _matrix_doctor()
    return {}


def matrix_physician_override(owner: Any) -> dict[str, Any]:
    doctor = _matrix_doctor()
    override = AvailabilityOverride.objects.create(
        physician=doctor, date=timezone.localdate() + dt.timedelta(days=7), kind="time_off"
    )
    return {"physician_id": doctor.user.public_id, "override_id": override.public_id}


def matrix_override_only(owner: Any) -> dict[str, Any]:
    return {"override_id": matrix_physician_override(owner)["override_id"]}


SETUPS |= {
    "scheduling-physicians": matrix_physician_listed,
    "scheduling-physician": matrix_public_profile,
    "scheduling-schedule": matrix_physician,
    "scheduling-overrides": matrix_physician,
    "scheduling-override": matrix_physician_override,
    "scheduling-my-override": matrix_override_only,
}
_SCHEDULE = {
    "time_zone": "America/Chicago",
    "buffer_minutes": 10,
    "weekly": [{"weekday": 0, "start_time": "09:00", "end_time": "17:00"}],
}
_TIME_OFF = {"date": str(dt.date.today() + dt.timedelta(days=30)), "kind": "time_off"}
BODIES |= {
    ("PUT", "scheduling-my-schedule"): _SCHEDULE,
    ("PUT", "scheduling-schedule"): _SCHEDULE,
    ("POST", "scheduling-my-overrides"): _TIME_OFF,
    ("POST", "scheduling-overrides"): _TIME_OFF,
}
# --- end availability and public physician profiles ------------------------------------


def test_every_scheduling_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "scheduling")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)

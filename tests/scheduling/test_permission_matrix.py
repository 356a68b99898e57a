"""Scheduling's permission matrix: every endpoint x role, with today's status. The `patient`
actor's appointments fill each row, so an outsider's success can be checked for leaks. The
iCal feed takes no session by design: the secret in its URL is the credential (like
billing's hosted pages), so every role, anonymous included, gets the feed it names. Staff
act for a patient they name; static bodies name none, so staff rows needing one answer
400. Visits in the URLs belong to the `patient` actor with the `physician` actor as their
physician (both FL)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import PhysicianProfile
from scheduling.models import AppointmentStatus
from scheduling.services.ical import ical_token_create
from tests.factories import PhysicianFactory
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.scheduling.support import appointment_for
from tests.scheduling.support_calendar import wall
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # --- slot search ---
    ("GET", "slot-search"): statuses(401, 200, 200, 400, 400, 400),
    # --- end slot search ---
    # --- calendars: my appointments, agendas, the iCal feed (h10-calendar) ---
    ("GET", "scheduling-my-appointments"): statuses(401, 200, 200, 403, 403, 403),
    ("GET", "scheduling-agenda"): statuses(401, 403, 403, 200, 200, 403),
    ("GET", "scheduling-physician-agenda"): statuses(401, 403, 403, 403, 403, 200),
    ("POST", "scheduling-ical-token"): statuses(401, 403, 403, 201, 201, 403),
    ("DELETE", "scheduling-ical-token"): statuses(401, 403, 403, 204, 204, 403),
    ("GET", "scheduling-ical-feed"): statuses(200, 200, 200, 200, 200, 200),
    # --- end calendars ---
    # --- video visit: join, start, complete (the visit's patient / physician only) ---
    ("GET", "appointment-join"): statuses(401, 200, 404, 404, 200, 404),
    ("POST", "appointment-start"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "appointment-complete"): statuses(401, 403, 403, 404, 200, 403),
    # --- end of video visit ---
}

# --- slot search ---
SLOT_BODIES: dict[Row, dict[str, Any]] = {
    ("GET", "slot-search"): {
        "kind": "check_in",
        "date_from": "2026-12-07",
        "date_to": "2026-12-08",
    },
}
# --- end slot search ---

# --- calendars (h10-calendar) ---
AGENDA_DAY = "2026-11-01"


def _visit_with_another_physician(owner: Any) -> Any:
    """The patient's visit on AGENDA_DAY with a physician who is none of the actors."""
    doctor = PhysicianFactory()
    starts = wall(f"{AGENDA_DAY} 10:00", "America/New_York")
    appointment_for(owner, doctor, starts, status=AppointmentStatus.COMPLETED)
    return doctor


def calendar_visit(owner: Any) -> dict[str, Any]:
    _visit_with_another_physician(owner)
    return {}


def physician_of_visit(owner: Any) -> dict[str, Any]:
    return {"public_id": _visit_with_another_physician(owner).user.public_id}


def feed_of_visit(owner: Any) -> dict[str, Any]:
    doctor = _visit_with_another_physician(owner)
    return {"token": ical_token_create(physician=doctor, actor=doctor.user).token}


CALENDAR_SETUPS = {
    "scheduling-my-appointments": calendar_visit,
    "scheduling-agenda": calendar_visit,
    "scheduling-physician-agenda": physician_of_visit,
    "scheduling-ical-feed": feed_of_visit,
}
CALENDAR_BODIES: dict[Row, dict[str, Any]] = {
    ("GET", "scheduling-agenda"): {"date": AGENDA_DAY},
    ("GET", "scheduling-physician-agenda"): {"date": AGENDA_DAY},
}
# --- end calendars ---


# --- video visit ---
def visit_setups(physician: PhysicianProfile) -> dict[str, Any]:
    def visit_open_now(owner: Any) -> dict[str, Any]:
        return {"public_id": visit_in(owner, physician, 5).public_id}

    def visit_in_progress(owner: Any) -> dict[str, Any]:
        visit = visit_in(owner, physician, -5, status=AppointmentStatus.IN_PROGRESS)
        return {"public_id": visit.public_id}

    return {
        "appointment-join": visit_open_now,
        "appointment-start": visit_open_now,
        "appointment-complete": visit_in_progress,
    }


VISIT_BODIES: dict[Row, dict[str, Any]] = {
    ("POST", "appointment-start"): {"confirmed_state": "FL"},
    ("POST", "appointment-complete"): {"note": "Seen by video.", "standard_of_care_attested": True},
}
# --- end of video visit ---


def setups_for(physician: PhysicianProfile) -> dict[str, Any]:
    """Per URL name: what the row needs, made for the `patient` actor and `physician`."""
    return {**CALENDAR_SETUPS, **visit_setups(physician)}


BODIES = {**SLOT_BODIES, **CALENDAR_BODIES, **VISIT_BODIES}


def test_every_scheduling_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "scheduling")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, physician, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=setups_for(physician), bodies=BODIES)

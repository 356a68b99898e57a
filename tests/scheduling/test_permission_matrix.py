"""Scheduling's permission matrix: every endpoint x role, with today's status. Staff act
for a patient they name; the matrix's static bodies name none, so staff rows that need
one answer 400."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from accounts.models import PhysicianProfile, User
from patients.models import IntakeStatus
from tests.factories import LicenseFactory, PhysicianFactory, UserFactory
from tests.patients.support import intake_for
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.scheduling.support import appointment_for, schedule_for

pytestmark = pytest.mark.django_db

SLOT_QUERY = {"kind": "check_in", "date_from": "2026-12-07", "date_to": "2026-12-08"}

# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    # slot search
    ("GET", "slot-search"): statuses(401, 200, 200, 400, 400, 400),
    # --- appointments (booking): staff must name the patient (400 with this body); the
    # `physician` actor holds the `patient` actor's visit; anyone else's is 404 ---
    ("POST", "appointment-list"): statuses(401, 201, 409, 400, 400, 400),
    ("GET", "appointment-detail"): statuses(401, 200, 404, 404, 200, 200),
    ("POST", "appointment-reschedule"): statuses(401, 201, 404, 404, 201, 201),
    ("POST", "appointment-cancel"): statuses(401, 200, 404, 404, 200, 200),
    # --- end of appointments (booking) ---
}

# --- appointments (booking): book, read, reschedule, cancel (h10-book) -----------------
# Slots a week ahead of the real clock (inside notice and horizon), in UTC office hours.
# Booking names a Florida physician of its own (a known id in the static body); the
# other rows' visit is the `patient` actor's consultation with the `physician` actor.
BOOKING_SLOT = datetime.combine(
    datetime.now(UTC).date() + timedelta(days=7), time(15, 0), tzinfo=UTC
)
BOOKING_PHYSICIAN_ID = uuid.UUID("00000000-0000-4000-8000-00000000b00c")


def _open_all_week(physician: PhysicianProfile) -> None:
    schedule_for(physician, time_zone="UTC", weekdays=(0, 1, 2, 3, 4, 5, 6))


def _ready_to_book(owner: User) -> dict[str, Any]:
    doctor = PhysicianFactory(user=UserFactory(role="physician", public_id=BOOKING_PHYSICIAN_ID))
    LicenseFactory(physician=doctor, state="FL")
    _open_all_week(doctor)
    intake_for(owner.patient, status=IntakeStatus.SUBMITTED)
    return {}


def booking_setups(physician: PhysicianProfile) -> dict[str, Any]:
    def consultation(owner: User) -> dict[str, Any]:
        """Two days before BOOKING_SLOT, with `physician`; the patient's intake is in."""
        _open_all_week(physician)
        intake_for(owner.patient, status=IntakeStatus.SUBMITTED)
        visit = appointment_for(
            owner, physician, BOOKING_SLOT - timedelta(days=2), kind="consultation"
        )
        return {"public_id": visit.public_id}

    return {
        "appointment-list": _ready_to_book,
        "appointment-detail": consultation,
        "appointment-reschedule": consultation,
        "appointment-cancel": consultation,
    }


BOOKING_BODIES: dict[Row, dict[str, Any]] = {
    ("POST", "appointment-list"): {
        "kind": "consultation",
        "starts_at": BOOKING_SLOT.isoformat(),
        "physician": str(BOOKING_PHYSICIAN_ID),
    },
    ("POST", "appointment-reschedule"): {
        "starts_at": BOOKING_SLOT.isoformat(),
        "reason": "The clinic is closed that day.",
    },
    ("POST", "appointment-cancel"): {"reason": "The clinic is closed that day."},
}
# --- end of appointments (booking) -----------------------------------------------------


def setups_for(physician: PhysicianProfile) -> dict[str, Any]:
    """Per URL name: what the row needs, made for the `patient` actor and `physician`."""
    return {**booking_setups(physician)}


BODIES: dict[Row, dict[str, Any]] = {
    ("GET", "slot-search"): SLOT_QUERY,
    **BOOKING_BODIES,
}


def test_the_table_covers_every_endpoint():
    assert table_mismatch(MATRIX, "scheduling") == ""


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, physician, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=setups_for(physician), bodies=BODIES)

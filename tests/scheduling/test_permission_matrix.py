"""Scheduling's permission matrix: every endpoint x role, with today's status. The `patient`
actor's appointments fill each row, so an outsider's success can be checked for leaks. The
iCal feed takes no session by design: the secret in its URL is the credential (like
billing's hosted pages), so every role, anonymous included, gets the feed it names. Staff
act for a patient they name; static bodies name none, so staff rows needing one answer
400. Visits in the URLs belong to the `patient` actor with the `physician` actor as their
physician (both FL)."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from patients.models import IntakeStatus
from scheduling.models import AppointmentStatus, AvailabilityOverride
from scheduling.services.ical import ical_token_create
from tests.factories import LicenseFactory, PhysicianFactory, UserFactory
from tests.patients.support import intake_for
from tests.permission_matrix import Row, assert_row, cases, statuses, table_mismatch
from tests.scheduling.support import appointment_for, schedule_for
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
    # --- check-in cadence ---
    ("GET", "scheduling-patient-cadence"): statuses(401, 403, 403, 404, 200, 200),
    ("PUT", "scheduling-patient-cadence"): statuses(401, 403, 403, 404, 200, 200),
    ("GET", "scheduling-my-cadence"): statuses(401, 200, 200, 403, 403, 403),
    # --- end of check-in cadence ---
    # --- appointments (booking): staff must name the patient (400 with this body); the
    # `physician` actor holds the `patient` actor's visit; anyone else's is 404 ---
    ("POST", "appointment-list"): statuses(401, 201, 409, 400, 400, 400),
    ("GET", "appointment-detail"): statuses(401, 200, 404, 404, 200, 200),
    ("POST", "appointment-reschedule"): statuses(401, 201, 404, 404, 201, 201),
    ("POST", "appointment-cancel"): statuses(401, 200, 404, 404, 200, 200),
    # --- end of appointments (booking) ---
}

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


AVAILABILITY_SETUPS = {
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
AVAILABILITY_BODIES: dict[Row, dict[str, Any]] = {
    ("PUT", "scheduling-my-schedule"): _SCHEDULE,
    ("PUT", "scheduling-schedule"): _SCHEDULE,
    ("POST", "scheduling-my-overrides"): _TIME_OFF,
    ("POST", "scheduling-overrides"): _TIME_OFF,
}
# --- end availability and public physician profiles ------------------------------------

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


# --- check-in cadence ---
def patient_url(owner: Any) -> dict[str, Any]:
    return {"public_id": owner.patient.public_id}


CADENCE_SETUPS = {"scheduling-patient-cadence": patient_url}
CADENCE_BODIES: dict[Row, dict[str, Any]] = {
    ("PUT", "scheduling-patient-cadence"): {"interval_days": 14},
}
# --- end of check-in cadence ---


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
    return {
        **AVAILABILITY_SETUPS,
        **CALENDAR_SETUPS,
        **CADENCE_SETUPS,
        **visit_setups(physician),
        **booking_setups(physician),
    }


BODIES = {
    **AVAILABILITY_BODIES,
    **SLOT_BODIES,
    **CALENDAR_BODIES,
    **VISIT_BODIES,
    **CADENCE_BODIES,
    **BOOKING_BODIES,
}


def test_every_scheduling_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "scheduling")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, physician, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=setups_for(physician), bodies=BODIES)

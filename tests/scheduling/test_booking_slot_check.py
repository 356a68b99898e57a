"""Booking's check of one start (scheduling.selectors.slot_check) against the slot
search's definition (`slot_offered`), case by case: hours, grid, notice and horizon,
overrides, DST, licenses day by day, the physician's and the patient's appointments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import LicenseStatus, PhysicianProfile, User
from scheduling.models import AppointmentStatus, AvailabilityOverride, OverrideKind
from scheduling.selectors.slot_check import slot_bookable
from scheduling.selectors.slots import slot_offered
from tests.factories import LicenseFactory, PhysicianFactory
from tests.scheduling.support import appointment_for, schedule_for

pytestmark = pytest.mark.django_db

EASTERN = ZoneInfo("America/New_York")
CENTRAL = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MONDAY = date(2026, 12, 7)


def at(hour: int, minute: int = 0, day: date = MONDAY, zone: ZoneInfo = EASTERN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def nothing(physician: PhysicianProfile, patient: User, other: User) -> None:
    pass


def time_off(start: time | None = None, end: time | None = None, day: date = MONDAY):
    def setup(physician: PhysicianProfile, patient: User, other: User) -> None:
        AvailabilityOverride.objects.create(
            physician=physician,
            date=day,
            kind=OverrideKind.TIME_OFF,
            start_time=start,
            end_time=end,
        )

    return setup


def extra_hours(start: time, end: time, day: date):
    def setup(physician: PhysicianProfile, patient: User, other: User) -> None:
        AvailabilityOverride.objects.create(
            physician=physician,
            date=day,
            kind=OverrideKind.EXTRA_HOURS,
            start_time=start,
            end_time=end,
        )

    return setup


def florida_license(**fields: object):
    def setup(physician: PhysicianProfile, patient: User, other: User) -> None:
        physician.licenses.filter(state="FL").update(**fields)

    return setup


def no_florida_license(physician: PhysicianProfile, patient: User, other: User) -> None:
    physician.licenses.filter(state="FL").delete()


def account_inactive(physician: PhysicianProfile, patient: User, other: User) -> None:
    User.objects.filter(pk=physician.user_id).update(is_active=False)


def physician_busy(starts_at: datetime, status: str = AppointmentStatus.BOOKED):
    def setup(physician: PhysicianProfile, patient: User, other: User) -> None:
        appointment_for(other, physician, starts_at, status=status)

    return setup


def patient_busy(starts_at: datetime):
    def setup(physician: PhysicianProfile, patient: User, other: User) -> None:
        elsewhere = PhysicianFactory()
        LicenseFactory(physician=elsewhere, state="FL")
        appointment_for(patient, elsewhere, starts_at)

    return setup


Setup = Callable[[PhysicianProfile, User, User], None]

# (setup, start, offered); check-ins are 20 minutes, the buffer 10, the step 15.
CASES: dict[str, tuple[Setup, datetime, bool]] = {
    "on the grid": (nothing, at(9), True),
    "last start that fits": (nothing, at(16, 30), True),
    "too late to fit": (nothing, at(16, 45), False),
    "off the grid": (nothing, at(9, 5), False),
    "before hours": (nothing, at(8, 45), False),
    "weekend": (nothing, at(9, day=date(2026, 12, 5)), False),
    "inside the notice": (nothing, NOW + timedelta(hours=1), False),
    "beyond the horizon": (nothing, at(10, day=date(2027, 2, 8)), False),
    "whole day off": (time_off(), at(10), False),
    "hours off": (time_off(time(9), time(11)), at(10), False),
    "after the hours off": (time_off(time(9), time(11)), at(11), True),
    "extra hours on a Saturday, their own grid": (
        extra_hours(time(10, 5), time(12), date(2026, 12, 5)),
        at(10, 20, day=date(2026, 12, 5)),
        True,
    ),
    "extra hours, off their grid": (
        extra_hours(time(10, 5), time(12), date(2026, 12, 5)),
        at(10, 15, day=date(2026, 12, 5)),
        False,
    ),
    "no license in the state": (no_florida_license, at(10), False),
    "license suspended": (florida_license(status=LicenseStatus.SUSPENDED), at(10), False),
    "license lapses the day before": (florida_license(expires_on=date(2026, 12, 6)), at(10), False),
    "license expires that day": (florida_license(expires_on=MONDAY), at(10), True),
    "account inactive": (account_inactive, at(10), False),
    "appointment over the start": (physician_busy(at(9, 45)), at(10), False),
    "appointment inside the visit": (physician_busy(at(10, 15)), at(10), False),
    "buffer after an appointment": (physician_busy(at(9, 35)), at(10), False),
    "right after the buffer": (physician_busy(at(9, 30)), at(10), True),
    "next one right after the visit's buffer": (physician_busy(at(10, 30)), at(10), True),
    "a canceled appointment": (
        physician_busy(at(10), status=AppointmentStatus.CANCELED),
        at(10),
        True,
    ),
    "a completed appointment": (
        physician_busy(at(10), status=AppointmentStatus.COMPLETED),
        at(10),
        True,
    ),
    "the patient elsewhere at the time": (patient_busy(at(10, 10)), at(10), False),
    "the patient elsewhere just before": (patient_busy(at(9, 40)), at(10), True),
    "the patient elsewhere just after": (patient_busy(at(10, 20)), at(10), True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_start_is_answered_as_the_search_answers_it(case, patient, other_patient, physician):
    setup, starts_at, offered = CASES[case]
    schedule_for(physician, time_zone="America/New_York")
    setup(physician, patient, other_patient)
    ask = {"patient": patient.patient, "physician": physician, "kind": "check_in"}
    assert slot_offered(**ask, starts_at=starts_at, now=NOW) is offered
    assert slot_bookable(**ask, starts_at=starts_at, now=NOW) is offered


@pytest.mark.parametrize(
    ("day", "wall", "offered"),
    [
        # Central hours 9-17 across both 2026 DST changes, asked in UTC.
        (date(2026, 3, 6), time(15), True),  # 9:00 CST
        (date(2026, 3, 9), time(14), True),  # 9:00 CDT
        (date(2026, 3, 9), time(15), True),
        (date(2026, 3, 9), time(13, 45), False),  # 8:45 CDT
        (date(2026, 10, 30), time(13, 45), False),  # 8:45 CDT
        (date(2026, 11, 2), time(15), True),  # 9:00 CST
        (date(2026, 11, 2), time(14, 45), False),  # 8:45 CST
    ],
)
def test_a_central_physician_across_dst(day, wall, offered, patient, physician):
    schedule_for(physician, time_zone="America/Chicago")
    starts_at = datetime.combine(day, wall, tzinfo=UTC)
    now = datetime.combine(day - timedelta(days=3), time(), tzinfo=UTC)
    ask = {"patient": patient.patient, "physician": physician, "kind": "check_in"}
    assert slot_offered(**ask, starts_at=starts_at, now=now) is offered
    assert slot_bookable(**ask, starts_at=starts_at, now=now) is offered


def test_a_new_jersey_patient_needs_the_new_jersey_license(other_patient, physician):
    schedule_for(physician)
    physician.licenses.filter(state="NJ").update(status=LicenseStatus.SUSPENDED)
    ask = {"patient": other_patient.patient, "physician": physician, "kind": "check_in"}
    assert slot_offered(**ask, starts_at=at(10), now=NOW) is False
    assert slot_bookable(**ask, starts_at=at(10), now=NOW) is False


def test_an_appointment_starting_inside_the_buffer_refuses_the_slot(
    patient, other_patient, physician
):
    """10:00 (20 minutes, buffer 10) before an appointment at 10:25: the exclusion
    constraint's range meets it, so neither the search nor the check offers it (the search
    once read appointments only up to the visit's end and offered it)."""
    schedule_for(physician)
    appointment_for(other_patient, physician, at(10, 25))
    ask = {"patient": patient.patient, "physician": physician, "kind": "check_in"}
    assert slot_offered(**ask, starts_at=at(10), now=NOW) is False
    assert slot_bookable(**ask, starts_at=at(10), now=NOW) is False


def test_the_check_is_one_query_with_the_schedule_selected(patient, physician):
    schedule_for(physician, buffer_minutes=5)
    physician = PhysicianProfile.objects.select_related("user", "schedule").get(pk=physician.pk)
    with CaptureQueriesContext(connection) as queries:
        assert slot_bookable(
            patient=patient.patient, physician=physician, kind="check_in", starts_at=at(10), now=NOW
        )
    assert len(queries) == 1

"""The slot search's integer arithmetic agrees with the datetimes it replaces: the
practice date of an instant (license validity is decided on it) across both 2026 DST
changes, and the exact round trip of instants through microseconds, in Python and as the
busy ranges' query reads them (binary timestamps as integers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import practice_date
from scheduling.models import AppointmentStatus
from scheduling.selectors.slot_busy import Y2K, busy_by_physician, busy_queryset
from scheduling.selectors.slot_runs import instant_of as _instant
from scheduling.selectors.slot_runs import microseconds_of as _microseconds
from scheduling.selectors.slots import _PracticeCalendar
from tests.factories import PatientFactory, PhysicianFactory
from tests.scheduling.support import appointment_for


@pytest.mark.parametrize(
    "start",
    [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC)],
    ids=["spring", "fall"],
)
def test_practice_dates_by_bisection_match_practice_date(start):
    calendar = _PracticeCalendar(start, start + timedelta(days=5))
    instant = start - timedelta(days=1)
    while instant < start + timedelta(days=6):  # every 7 minutes, past the range too
        on, day_from, day_to = calendar.day_of(_microseconds(instant))
        assert on == practice_date(instant), instant
        assert day_from <= _microseconds(instant) < day_to
        instant += timedelta(minutes=7)


def test_instants_round_trip_through_microseconds_exactly():
    instant = datetime(2026, 3, 8, 3, 30, 15, 123456, tzinfo=ZoneInfo("America/New_York"))
    back = _instant(_microseconds(instant))
    assert back == instant
    assert back.tzinfo == ZoneInfo("UTC")
    assert _microseconds(instant) == int(instant.timestamp()) * 1_000_000 + 123456


@pytest.mark.parametrize(
    "start",
    [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC)],
    ids=["spring", "fall"],
)
def test_practice_dates_on_the_2000_epoch_match_practice_date(start):
    calendar = _PracticeCalendar(start, start + timedelta(days=5), epoch=Y2K)
    instant = start - timedelta(days=1)
    while instant < start + timedelta(days=6):  # every 7 minutes, past the range too
        on, day_from, day_to = calendar.day_of(_microseconds(instant) - Y2K)
        assert on == practice_date(instant), instant
        assert day_from <= _microseconds(instant) - Y2K < day_to
        instant += timedelta(minutes=7)
    far = start + timedelta(days=40)  # outside the precomputed days
    assert calendar.day_of(_microseconds(far) - Y2K)[0] == practice_date(far)


@pytest.mark.django_db
def test_busy_ranges_come_out_of_sql_as_exact_microseconds():
    doctor, other = PhysicianFactory(), PhysicianFactory()
    base = datetime(2026, 11, 1, 4, 59, 59, 999_999, tzinfo=UTC)
    starts = [
        base - timedelta(minutes=10, microseconds=1),  # before the base, busy past it
        base + timedelta(days=1, microseconds=1),
        datetime(2026, 11, 20, 14, 0, 0, 123_457, tzinfo=UTC),
        datetime(2027, 1, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2029, 7, 4, 12, 0, 0, 500_001, tzinfo=UTC),  # years past the base
    ]
    for n, starts_at in enumerate(starts):
        appointment_for(PatientFactory().user, doctor, starts_at, buffer_minutes=n)
    appointment_for(PatientFactory().user, other, starts[2], buffer_minutes=0)
    end = datetime(2030, 1, 1, tzinfo=UTC)
    found = busy_by_physician([doctor.pk], base, end)
    assert list(found) == [doctor.pk]
    busy = found[doctor.pk]
    # Microseconds since 2000-01-01 UTC, PostgreSQL's own epoch.
    assert busy.starts == [_microseconds(at) - Y2K for at in starts]
    assert busy.ends == [
        _microseconds(at + timedelta(minutes=20 + n)) - Y2K for n, at in enumerate(starts)
    ]
    both = busy_by_physician([other.pk, doctor.pk], base, end)
    assert both[doctor.pk].starts == busy.starts
    assert both[other.pk].starts == [_microseconds(starts[2]) - Y2K]


@pytest.mark.django_db
def test_busy_ranges_are_what_the_orm_reads_of_busy_queryset():
    """The compiled statement read in binary, held to the queryset it compiles: the active
    appointments only, those meeting the range, by physician in start order."""
    doctors = [PhysicianFactory() for _ in range(3)]
    base = datetime(2026, 12, 1, 14, tzinfo=UTC)
    statuses = [
        AppointmentStatus.BOOKED,
        AppointmentStatus.IN_PROGRESS,
        AppointmentStatus.CANCELED,
        AppointmentStatus.COMPLETED,
    ]
    for n, doctor in enumerate(doctors[:2]):
        for hour in (12, 0, 6, 30 * 24, -30 * 24):  # not in start order; two outside
            for status in statuses:
                starts_at = base + timedelta(hours=hour, minutes=60 * statuses.index(status) + n)
                appointment_for(PatientFactory().user, doctor, starts_at, status=status)
    pks = [doctor.pk for doctor in doctors]
    low, high = base - timedelta(days=1), base + timedelta(days=2)
    expected = {
        pk: ([_microseconds(at) - Y2K for at in starts], [_microseconds(at) - Y2K for at in ends])
        for pk, starts, ends in busy_queryset(physician_pks=pks, range_start=low, range_end=high)
    }
    found = busy_by_physician(pks, low, high)
    assert {pk: (busy.starts, busy.ends) for pk, busy in found.items()} == expected
    assert set(found) == set(pks[:2])
    assert all(len(busy.starts) == 3 * 2 for busy in found.values())  # 3 in range x 2 active

"""The slot search works in runs of starts (scheduling.selectors.slots.OpenSlots); held
here to the rule stated start by start: every step of a physician's window whose visit
plus buffer meets none of their appointments, whose visit meets none of the patient's,
inside notice and horizon, on a day physician_authority lets them treat. Random
schedules, bookings, time off and a license lapsing mid-range, several seeds."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from accounts.models import PhysicianProfile
from accounts.selectors import physician_authority
from core.clock import practice_date
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    AvailabilityOverride,
    OverrideKind,
    WeeklyAvailability,
)
from scheduling.selectors.office_hours import windows
from scheduling.selectors.slots import open_slots
from tests.factories import DeaFactory, LicenseFactory, PatientFactory, PhysicianFactory
from tests.scheduling.support import MINUTES, appointment_for, schedule_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 13, 7, tzinfo=UTC)  # the Monday after the fall DST change
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 14)
STEP = timedelta(minutes=15)


def expected(patient, kind: str) -> list[tuple[datetime, int]]:
    """(start, physician pk) of every open slot, found start by start."""
    length = timedelta(minutes=MINUTES[kind])
    zone = ZoneInfo(patient.time_zone)
    low = max(datetime.combine(FIRST, time.min, tzinfo=zone), NOW + timedelta(hours=2))
    high = datetime.combine(LAST + timedelta(days=1), time.min, tzinfo=zone)
    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES)
    mine = list(active.filter(patient=patient))
    found = []
    for doctor in PhysicianProfile.objects.order_by("pk"):
        schedule = doctor.schedule
        buffer = timedelta(minutes=schedule.buffer_minutes)
        theirs = list(active.filter(physician=doctor))
        doctor_zone = ZoneInfo(schedule.time_zone)
        day = FIRST - timedelta(days=2)
        while day <= LAST + timedelta(days=1):
            rules = [
                (r.start_time, r.end_time)
                for r in WeeklyAvailability.objects.filter(physician=doctor, weekday=day.weekday())
            ]
            overrides = [
                (o.kind, o.start_time, o.end_time)
                for o in AvailabilityOverride.objects.filter(physician=doctor, date=day)
            ]
            for window_start, window_end in windows(rules, overrides, day, doctor_zone):
                start = window_start
                while start + length <= window_end:
                    if (
                        low <= start < high
                        and not any(
                            a.starts_at < start + length + buffer and a.blocked_until > start
                            for a in theirs
                        )
                        and not any(
                            a.starts_at < start + length and a.ends_at > start for a in mine
                        )
                        and physician_authority(
                            doctor, patient.state, on=practice_date(start)
                        ).may_treat
                    ):
                        found.append((start, doctor.pk))
                    start += STEP
            day += timedelta(days=1)
    return sorted(found)


def random_world(seed: int):
    rng = random.Random(seed)
    patient = PatientFactory(state="FL", county="Escambia", time_zone="America/Chicago")
    others = [PatientFactory() for _ in range(3)]
    for _ in range(4):
        doctor = PhysicianFactory()
        lapses = rng.random() < 0.3
        LicenseFactory(
            physician=doctor,
            state="FL",
            expires_on=date(2026, 11, rng.randint(3, 12)) if lapses else date(2030, 1, 1),
        )
        DeaFactory(physician=doctor, state="FL")
        start_hour = rng.choice([7, 8, 9])
        schedule_for(
            doctor,
            time_zone=rng.choice(["America/New_York", "America/Chicago"]),
            buffer_minutes=rng.choice([0, 5, 10, 15]),
            weekdays=tuple(sorted(rng.sample(range(7), rng.randint(3, 6)))),
            start=time(start_hour, rng.choice([0, 10, 30])),
            end=time(rng.choice([12, 16, 23]), rng.choice([0, 45])),
        )
        for _ in range(3):
            day = FIRST + timedelta(days=rng.randint(0, 13))
            if rng.random() < 0.5:
                AvailabilityOverride.objects.create(
                    physician=doctor, date=day, kind=OverrideKind.TIME_OFF
                )
            else:
                kind = rng.choice([OverrideKind.TIME_OFF, OverrideKind.EXTRA_HOURS])
                hour = rng.randint(6, 20)
                AvailabilityOverride.objects.create(
                    physician=doctor,
                    date=day,
                    kind=kind,
                    start_time=time(hour, rng.choice([0, 20])),
                    end_time=time(hour + rng.randint(1, 3), rng.choice([0, 40])),
                )
        doctor_zone = ZoneInfo(doctor.schedule.time_zone)
        for _ in range(40):
            who = rng.choice([patient, *others])
            # Mostly inside office hours and on or near the step grid, so that visits
            # end exactly where slots would start, and the other way round.
            local = datetime.combine(
                FIRST + timedelta(days=rng.randint(1, 13)),
                time(rng.randint(start_hour, 21), rng.choice([0, 5, 10, 15, 20, 30, 45, 50])),
                tzinfo=doctor_zone,
            )
            starts_at = local.astimezone(UTC)
            try:
                with transaction.atomic():
                    appointment_for(
                        who.user,
                        doctor,
                        starts_at,
                        kind=rng.choice(["check_in", "consultation", "follow_up"]),
                        status=rng.choice(
                            [AppointmentStatus.BOOKED] * 3 + [AppointmentStatus.CANCELED]
                        ),
                        buffer_minutes=rng.choice([0, 10]),
                    )
            except IntegrityError:
                pass  # the exclusion constraints keep the world consistent
    return patient


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["check_in", "consultation"])
def test_runs_give_exactly_the_slots_of_the_rule(seed, kind):
    patient = random_world(seed)
    slots = open_slots(patient=patient, kind=kind, date_from=FIRST, date_to=LAST, now=NOW)
    got = [(slot.starts_at, slot.physician.pk) for slot in slots]
    want = expected(patient, kind)
    assert got == want
    assert len(slots) == len(want)
    # Slices (pages) are the same slots, made alone.
    assert [(s.starts_at, s.physician.pk) for s in slots[7:19]] == want[7:19]
    if want:
        assert (slots[-1].starts_at, slots[-1].physician.pk) == want[-1]
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=MINUTES[kind]) for slot in slots)

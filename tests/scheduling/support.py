"""What the scheduling tests share: a physician's schedule and appointments stored
directly (the booking service has its own tests)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from accounts.models import PhysicianProfile, User
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    PhysicianSchedule,
    WeeklyAvailability,
)

MINUTES = {"consultation": 30, "check_in": 20, "follow_up": 15}


def schedule_for(
    physician: PhysicianProfile,
    *,
    time_zone: str = "America/New_York",
    buffer_minutes: int = 10,
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    start: time = time(9, 0),
    end: time = time(17, 0),
) -> PhysicianSchedule:
    """Weekday office hours, wall-clock in `time_zone`."""
    schedule, _ = PhysicianSchedule.objects.update_or_create(
        physician=physician,
        defaults={"time_zone": time_zone, "buffer_minutes": buffer_minutes},
    )
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(physician=physician, weekday=day, start_time=start, end_time=end)
        for day in weekdays
    )
    return schedule


def appointment_for(
    patient: User,
    physician: PhysicianProfile,
    starts_at: datetime,
    *,
    kind: str = AppointmentKind.CHECK_IN,
    status: str = AppointmentStatus.BOOKED,
    buffer_minutes: int = 10,
) -> Appointment:
    ends_at = starts_at + timedelta(minutes=MINUTES[kind])
    return Appointment.objects.create(
        patient=patient.patient,
        physician=physician,
        kind=kind,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
        blocked_until=ends_at + timedelta(minutes=buffer_minutes),
        booked_by=patient,
    )

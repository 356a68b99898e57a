"""Whether one start is an open slot with one physician: what booking decides on.

The slot search (scheduling.selectors.slots) is the definition of an open slot; asking it
for one start (`slot_offered`) reads every credential, rule, override and appointment of
the physician around the day: 8 queries and a search's Python for one answer. Booking asks
here instead, with the same pieces for that one start, in one SELECT: whether the
physician may treat in the patient's state on the visit's practice date (accounts'
`physicians_licensed_in`, the queryset spelling of physician_authority's `may_treat`);
whether an active appointment of the physician (with the buffer: the exclusion
constraint's range) or of the patient meets the visit; and the physician's weekly rules and
overrides around the day, as arrays, which become their windows through the search's own
`office_hours.windows_of`. The physician's schedule (buffer, zone) comes with the
physician: select it to spare a query. Its SQL is the same for every booking but for the
values, so it is compiled once per process (core.compiled).

`tests/scheduling/test_booking_slot_check.py` holds it to `slot_offered` case by case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject
from django.utils import timezone

from accounts.models import PhysicianProfile
from accounts.selectors import physicians_licensed_in
from core.clock import practice_date
from core.compiled import CompiledOnce
from patients.models import Patient
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AvailabilityOverride,
    WeeklyAvailability,
)
from scheduling.selectors.office_hours import overrides_from, rules_from, windows_of
from scheduling.selectors.slot_runs import microseconds_of
from scheduling.selectors.slots import appointment_minutes, booking_window, buffer_of

_MICROSECOND = timedelta(microseconds=1)


def slot_bookable(
    *,
    patient: Patient,
    physician: PhysicianProfile,
    kind: str,
    starts_at: datetime,
    now: datetime | None = None,
) -> bool:
    """Whether `starts_at` is an open slot of `kind` with `physician` for `patient` now
    (always from the database: booking decides on it). The buffer and the zone are the
    physician's schedule's: select `schedule` with the physician to spare its query."""
    earliest, latest = booking_window(now or timezone.now())
    if not earliest <= starts_at <= latest:
        return False
    length = appointment_minutes(kind)
    ends_at = starts_at + length
    day = practice_date(starts_at)
    found = _CHECK.row(
        physician_pk=physician.pk,
        patient_pk=patient.pk,
        state=patient.state,
        starts_at=starts_at,
        ends_at=ends_at,
        blocked_end=ends_at + buffer_of(physician),
        day=day,
        # The overrides the search reads for this start (slot_candidates).
        first_day=day - timedelta(days=1),
        last_day=practice_date(starts_at + _MICROSECOND) + timedelta(days=1),
    )
    if found is None or not found[0] or found[1]:
        return False
    return _within_hours(
        physician, starts_at, length, rules_from(found[2]), overrides_from(found[3])
    )


def slot_check_queryset(
    *,
    physician_pk: int,
    patient_pk: int,
    state: str,
    starts_at: datetime,
    ends_at: datetime,
    blocked_end: datetime,
    day: date,
    first_day: date,
    last_day: date,
) -> QuerySet[PhysicianProfile, Any]:
    """The physician's row: may treat in `state` on `day`, whether an active appointment
    meets the visit, the weekly rules and the overrides from `first_day` to `last_day`."""
    # Two tests, not one with OR: each side then reads its own index (the physician's
    # busy ranges, the patient's appointments); with OR, PostgreSQL read every one of the
    # physician's appointment rows from the heap (~400 in the bench data, 0.9 ms).
    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES)
    physician_meets = active.filter(
        physician=physician_pk, starts_at__lt=blocked_end, blocked_until__gt=starts_at
    )
    patient_meets = active.filter(patient=patient_pk, starts_at__lt=ends_at, ends_at__gt=starts_at)
    may_treat = physicians_licensed_in(state, on=day).filter(pk=OuterRef("pk"))
    overrides = AvailabilityOverride.objects.filter(
        physician=OuterRef("pk"), date__gte=first_day, date__lte=last_day
    )
    return (
        PhysicianProfile.objects.filter(pk=physician_pk)
        .annotate(
            may_treat=Exists(may_treat),
            meets=ExpressionWrapper(
                Q(Exists(physician_meets)) | Q(Exists(patient_meets)),
                output_field=BooleanField(),
            ),
            rules=ArraySubquery(
                WeeklyAvailability.objects.filter(physician=OuterRef("pk")).values(
                    row=JSONObject(weekday="weekday", start="start_time", end="end_time")
                )
            ),
            overrides=ArraySubquery(
                overrides.values(
                    row=JSONObject(date="date", kind="kind", start="start_time", end="end_time")
                )
            ),
        )
        .values_list("may_treat", "meets", "rules", "overrides")
    )


def _stand_ins(n: int) -> dict[str, Any]:
    moment = datetime(1900 + n, n, n, n, n, n, n, tzinfo=UTC)
    return {
        "physician_pk": -1_000_000 - n,
        "patient_pk": -2_000_000 - n,
        "state": f"Z{n}",
        "starts_at": moment,
        "ends_at": moment + timedelta(days=1),
        "blocked_end": moment + timedelta(days=2),
        "day": date(1910 + n, n, n),
        "first_day": date(1920 + n, n, n),
        "last_day": date(1930 + n, n, n),
    }


# Its SQL is the same for every booking: compiled once (core.compiled).
_CHECK: Final = CompiledOnce(
    slot_check_queryset,
    (_stand_ins(1), _stand_ins(2)),
)


def _within_hours(
    physician: PhysicianProfile,
    starts_at: datetime,
    length: timedelta,
    rules: dict[int, list[tuple[time, time]]],
    overrides: dict[date, list[tuple[str, time | None, time | None]]],
) -> bool:
    """Inside one of the physician's windows, on the step grid from the window's start,
    and ending inside it (the search's `runs_of`, for one start)."""
    step = timedelta(minutes=settings.SCHEDULING_SLOT_STEP_MINUTES) // _MICROSECOND
    start, reach = microseconds_of(starts_at), length // _MICROSECOND
    return any(
        window_start <= start <= window_end - reach and (start - window_start) % step == 0
        for window_start, window_end in windows_of(
            physician, rules, overrides, starts_at, starts_at + _MICROSECOND
        )
    )

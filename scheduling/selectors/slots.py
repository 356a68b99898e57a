"""Open slots: the one definition of when a physician can be booked for a patient.

A slot is offered when it lies inside the physician's hours for that day (weekly rules
in the physician's own zone, plus extra hours, minus time off), the physician may treat
in the patient's state on the visit's date (accounts.selectors.physician_authority, on
the practice calendar), it starts after the minimum notice and within the horizon, and
neither it plus the physician's buffer meets another active appointment of the physician
(the exclusion constraint's own range) nor it meets one of the patient's.

Searches run a fixed number of queries whatever the number of physicians or days: the
physicians with their credentials, rules, overrides and appointments are each read once
and the slots are made in Python. Booking asks `slot_offered`, which runs the same search
for one physician and one start, so search and booking cannot disagree.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import BigIntegerField, Func, Prefetch, Q
from django.utils import timezone

from accounts.models import LicenseStatus, PhysicianProfile
from accounts.selectors import physician_authority
from core.clock import practice_date
from patients.models import Patient
from patients.selectors.measurement import patient_zone
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AvailabilityOverride,
    OverrideKind,
)
from scheduling.selectors.availability import physician_zone, schedule_or_blank


@dataclass(frozen=True)
class Slot:
    physician: PhysicianProfile
    starts_at: datetime  # UTC
    ends_at: datetime


def appointment_minutes(kind: str) -> timedelta:
    return timedelta(minutes=settings.APPOINTMENT_MINUTES[kind])


def booking_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The earliest and latest start a booking may have right now (notice and horizon)."""
    now = now or timezone.now()
    return now + settings.SCHEDULING_MIN_NOTICE, now + timedelta(
        days=settings.SCHEDULING_HORIZON_DAYS
    )


def buffer_of(physician: PhysicianProfile) -> timedelta:
    return timedelta(minutes=schedule_or_blank(physician).buffer_minutes)


def open_slots(
    *,
    patient: Patient,
    kind: str,
    date_from: date,
    date_to: date,
    physician: PhysicianProfile | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Every open slot of `kind` for `patient` between two dates of the patient's own
    calendar (both included), across every physician who may treat in the patient's
    state, or only `physician`; ordered by start, then physician."""
    zone = patient_zone(patient)
    range_start = datetime.combine(date_from, time.min, tzinfo=zone)
    range_end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    earliest, latest = booking_window(now)
    range_start, range_end = max(range_start, earliest), min(range_end, latest + timedelta(0, 1))
    if range_start >= range_end:
        return []
    return _slots(patient, kind, range_start, range_end, physician=physician)


def slot_offered(
    *,
    patient: Patient,
    physician: PhysicianProfile,
    kind: str,
    starts_at: datetime,
    now: datetime | None = None,
) -> bool:
    """Whether `starts_at` is an open slot of `kind` with `physician` for `patient` now."""
    earliest, latest = booking_window(now)
    if not earliest <= starts_at <= latest:
        return False
    slots = _slots(patient, kind, starts_at, starts_at + timedelta(0, 1), physician=physician)
    return any(slot.starts_at == starts_at for slot in slots)


def _slots(
    patient: Patient,
    kind: str,
    range_start: datetime,
    range_end: datetime,
    *,
    physician: PhysicianProfile | None,
) -> list[Slot]:
    """Slots starting in [range_start, range_end).

    The arithmetic runs on integer microseconds since the epoch (instants compare and
    bisect as plain ints: aware datetimes would ask their zone at every comparison), and
    datetimes are made only for the slots found."""
    length = appointment_minutes(kind)
    physicians = _candidates(patient.state, range_start, range_end, physician)
    ids = [doctor.pk for doctor in physicians]
    busy = _busy_by_physician(ids, range_start - timedelta(days=1), range_end + length)
    patient_busy = _Busy.of(
        Appointment.objects.filter(
            patient=patient,
            status__in=ACTIVE_STATUSES,
            starts_at__lt=range_end + length,
            ends_at__gt=range_start,
        ).values_list(_EpochMicroseconds("starts_at"), _EpochMicroseconds("ends_at"))
    )
    search = _Search(
        state=patient.state,
        length=length,
        range_start=range_start,
        range_end=range_end,
        patient_busy=patient_busy,
        calendar=_PracticeCalendar(range_start, range_end),
    )
    # The physicians come in pk order, so each start's list is in pk order: walking the
    # starts in order gives the slots by start, then physician, without sorting them all.
    by_start: dict[int, list[PhysicianProfile]] = {}
    no_one = _Busy([], [])
    for doctor in physicians:
        for starts_at in search.starts_with(doctor, busy.get(doctor.pk, no_one)):
            doctors = by_start.get(starts_at)
            if doctors is None:
                by_start[starts_at] = [doctor]
            else:
                doctors.append(doctor)
    slots = []
    for starts_at in sorted(by_start):
        instant = _instant(starts_at)
        ends_at = instant + length
        slots += [Slot(doctor, instant, ends_at) for doctor in by_start[starts_at]]
    return slots


@dataclass
class _Search:
    """What one search shares across its physicians."""

    state: str
    length: timedelta
    range_start: datetime
    range_end: datetime
    patient_busy: _Busy
    calendar: _PracticeCalendar

    def starts_with(self, doctor: PhysicianProfile, doctor_busy: _Busy) -> list[int]:
        """The doctor's open starts (microseconds) in the range, in order: inside their
        hours, meeting neither their appointments plus buffer nor the patient's, on a day
        physician_authority lets them treat in the patient's state (asked once a day)."""
        low, high = _microseconds(self.range_start), _microseconds(self.range_end)
        step = timedelta(minutes=settings.SCHEDULING_SLOT_STEP_MINUTES) // _MICROSECOND
        length = self.length // _MICROSECOND
        blocked = length + buffer_of(doctor) // _MICROSECOND
        # _Busy's test, inlined: this loop runs for every candidate start. When a start
        # meets a busy range, every start before the largest end found meets it too, so
        # the next candidate is the first step at or after that end.
        doctor_starts, doctor_ends = doctor_busy.starts, doctor_busy.max_ends
        patient_starts, patient_ends = self.patient_busy.starts, self.patient_busy.max_ends
        bisect_left = bisect.bisect_left
        may_treat: dict[date, bool] = {}
        day_from = day_to = 0
        allowed = False
        found: list[int] = []
        for window_start, window_end in _windows_of(doctor, self.range_start, self.range_end):
            # Starts step from the window's start, end inside it, lie in [low, high).
            starts_at = window_start
            if starts_at < low:
                starts_at += -(-(low - starts_at) // step) * step
            last = min(window_end - length, high - 1)
            while starts_at <= last:
                before = bisect_left(doctor_starts, starts_at + blocked)
                if before and doctor_ends[before - 1] > starts_at:
                    starts_at += -(-(doctor_ends[before - 1] - starts_at) // step) * step
                    continue
                before = bisect_left(patient_starts, starts_at + length)
                if before and patient_ends[before - 1] > starts_at:
                    starts_at += -(-(patient_ends[before - 1] - starts_at) // step) * step
                    continue
                if not day_from <= starts_at < day_to:
                    on, day_from, day_to = self.calendar.day_of(starts_at)
                    if on not in may_treat:
                        may_treat[on] = physician_authority(doctor, self.state, on=on).may_treat
                    allowed = may_treat[on]
                if allowed:
                    found.append(starts_at)
                starts_at += step
        return found


# Instants as integer microseconds since the epoch (UTC), exactly.
_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
_MICROSECOND = timedelta(microseconds=1)


def _microseconds(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _instant(microseconds: int) -> datetime:
    """The UTC instant (tzinfo ZoneInfo("UTC"), as the slots always had)."""
    return _EPOCH + timedelta(microseconds=microseconds)


class _EpochMicroseconds(Func):
    """A timestamptz column as integer microseconds since the epoch (exact: EXTRACT
    answers a numeric with the microseconds), read as an int, not parsed as a datetime."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


class _PracticeCalendar:
    """`practice_date` for instants in microseconds: the practice calendar's midnights
    around the range (each the first instant of its date, as `practice_date` sees it),
    looked up by bisection."""

    def __init__(self, range_start: datetime, range_end: datetime) -> None:
        zone = ZoneInfo(settings.PRACTICE_TIME_ZONE)
        day = practice_date(range_start) - timedelta(days=2)
        last = practice_date(range_end) + timedelta(days=2)
        self.days: list[date] = []
        self.midnights: list[int] = []
        while day <= last:
            self.days.append(day)
            self.midnights.append(_microseconds(datetime.combine(day, time.min, tzinfo=zone)))
            day += timedelta(days=1)

    def day_of(self, microseconds: int) -> tuple[date, int, int]:
        """The practice date of the instant and the instants [from, to) it spans."""
        index = bisect.bisect_right(self.midnights, microseconds) - 1
        if 0 <= index < len(self.days) - 1:
            return self.days[index], self.midnights[index], self.midnights[index + 1]
        # Outside the precomputed days (never, for a search's own range): no span cached.
        return practice_date(_instant(microseconds)), microseconds, microseconds + 1


def _candidates(
    state: str, range_start: datetime, range_end: datetime, physician: PhysicianProfile | None
) -> list[PhysicianProfile]:
    """Physicians with a license in `state` that is active and unexpired on some day of
    the range (physician_authority then decides day by day), with everything the slots
    need prefetched."""
    first_day = practice_date(range_start)
    last_day = practice_date(range_end)
    overrides = AvailabilityOverride.objects.filter(
        date__gte=first_day - timedelta(days=1), date__lte=last_day + timedelta(days=1)
    )
    doctors = PhysicianProfile.objects.filter(
        licenses__state=state,
        licenses__status=LicenseStatus.ACTIVE,
        licenses__expires_on__gte=first_day,
        user__is_active=True,
    )
    if physician is not None:
        doctors = doctors.filter(pk=physician.pk)
    return list(
        doctors.select_related("user", "schedule")
        .prefetch_related(
            "licenses",
            "dea_registrations",
            "cds_registrations",
            # Lists (to_attr), not related managers: a manager's queryset per physician
            # costs more than the rows.
            Prefetch("weekly_availability", to_attr="weekly_rules"),
            Prefetch("availability_overrides", queryset=overrides, to_attr="overrides_in_range"),
        )
        .order_by("pk")
        .distinct()
    )


def _windows_of(
    doctor: PhysicianProfile, range_start: datetime, range_end: datetime
) -> Iterator[tuple[int, int]]:
    """The physician's open hours (microseconds) on their own calendar days around
    [range_start, range_end), in order."""
    zone = physician_zone(doctor)
    rules: dict[int, list[tuple[time, time]]] = {}
    for rule in doctor.weekly_rules:  # type: ignore[attr-defined]
        rules.setdefault(rule.weekday, []).append((rule.start_time, rule.end_time))
    overrides: dict[date, list[AvailabilityOverride]] = {}
    for item in doctor.overrides_in_range:  # type: ignore[attr-defined]
        overrides.setdefault(item.date, []).append(item)
    day = range_start.astimezone(zone).date() - timedelta(days=1)
    last_day = range_end.astimezone(zone).date()
    while day <= last_day:
        windows = _windows(rules.get(day.weekday(), []), overrides.get(day, []), day, zone)
        for window_start, window_end in windows:
            yield _microseconds(window_start), _microseconds(window_end)
        day += timedelta(days=1)


def _windows(
    rules: list[tuple[time, time]], overrides: list[AvailabilityOverride], day: date, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The physician's open hours on one of their own calendar days, as UTC instants:
    the weekly rules of its weekday (unless the whole day is off) plus extra hours, minus
    time off (`overrides`: those of that day)."""
    whole_day_off = any(
        item.kind == OverrideKind.TIME_OFF and item.start_time is None for item in overrides
    )
    wall: list[tuple[time, time]] = [] if whole_day_off else list(rules)
    wall += [
        (item.start_time, item.end_time)
        for item in overrides
        if item.kind == OverrideKind.EXTRA_HOURS and item.start_time and item.end_time
    ]
    off = [
        (item.start_time, item.end_time)
        for item in overrides
        if item.kind == OverrideKind.TIME_OFF and item.start_time and item.end_time
    ]
    windows = _subtract(
        _merge([_instants(day, span, zone) for span in wall]),
        [_instants(day, span, zone) for span in off],
    )
    return windows


def _instants(day: date, span: tuple[time, time], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Wall-clock times of one day as UTC instants. Stepping happens in UTC afterwards, so
    a window that spans a DST change has its true length."""
    start, end = span
    return (
        datetime.combine(day, start, tzinfo=zone).astimezone(ZoneInfo("UTC")),
        datetime.combine(day, end, tzinfo=zone).astimezone(ZoneInfo("UTC")),
    )


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _subtract(
    spans: list[tuple[datetime, datetime]], holes: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    for hole_start, hole_end in holes:
        spans = [
            piece
            for start, end in spans
            for piece in ((start, min(end, hole_start)), (max(start, hole_end), end))
            if piece[0] < piece[1]
        ]
    return spans


class _Busy:
    """Busy intervals [start, end) in microseconds, sorted by start, with the running
    maximum of their ends: an interval meets [start, end) exactly when one of those
    starting before `end` ends after `start`, i.e. when the largest end among them does
    (one bisection of ints)."""

    def __init__(self, starts: list[int], ends: list[int]) -> None:
        """`starts` sorted, `ends` in the same order."""
        self.starts = starts
        self.max_ends = list(itertools.accumulate(ends, max))

    @classmethod
    def of(cls, intervals: Iterable[tuple[int, int]]) -> _Busy:
        ordered = sorted(intervals)
        return cls([start for start, _ in ordered], [end for _, end in ordered])


def _busy_by_physician(
    physician_ids: list[int], range_start: datetime, range_end: datetime
) -> dict[int, _Busy]:
    """Each physician's active appointments as [starts_at, blocked_until): the range the
    exclusion constraint keeps apart. One row per physician, the instants as arrays of
    integers in start order (thousands of rows of datetimes cost more to read than the
    search itself)."""
    starts_at, blocked_until = _EpochMicroseconds("starts_at"), _EpochMicroseconds("blocked_until")
    rows = (
        Appointment.objects.filter(
            Q(physician_id__in=physician_ids),
            status__in=ACTIVE_STATUSES,
            starts_at__lt=range_end,
            blocked_until__gt=range_start,
        )
        .order_by()
        .values("physician_id")
        .annotate(
            starts=ArrayAgg(starts_at, order_by=(starts_at, blocked_until)),
            ends=ArrayAgg(blocked_until, order_by=(starts_at, blocked_until)),
        )
        .values_list("physician_id", "starts", "ends")
    )
    return {physician_id: _Busy(starts, ends) for physician_id, starts, ends in rows}

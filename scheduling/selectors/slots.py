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
import operator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BigIntegerField, Func, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import PhysicianProfile
from core.clock import practice_date
from core.compiled import CompiledOnce
from patients.models import Patient
from patients.selectors.measurement import patient_zone
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
)
from scheduling.selectors.availability import physician_shown, schedule_or_blank
from scheduling.selectors.office_hours import KnownDays, windows_of
from scheduling.selectors.slot_busy import Y2K, Busy, busy_ranges
from scheduling.selectors.slot_cache import physician_runs_kept
from scheduling.selectors.slot_candidates import Treats, candidate_facts, candidates_found
from scheduling.selectors.slot_runs import (
    OpenSlots,
    Run,
    Shown,
    instant_of,
    microseconds_of,
    runs_within,
    runs_without,
)


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
    kept: bool = False,
) -> OpenSlots:
    """Every open slot of `kind` for `patient` between two dates of the patient's own
    calendar (both included), across every physician who may treat in the patient's
    state, or only `physician`; ordered by start, then physician. `kept`: the physician
    side may come from a search of the last few seconds (scheduling.selectors.slot_cache;
    for showing slots, never for deciding a booking)."""
    zone = patient_zone(patient)
    days_start = datetime.combine(date_from, time.min, tzinfo=zone)
    days_end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    earliest, latest = booking_window(now)
    low, high = max(days_start, earliest), min(days_end, latest + timedelta(0, 1))
    if low >= high:
        return OpenSlots([], step=1, length=appointment_minutes(kind))
    physicians: dict[int, PhysicianProfile] = {}

    def compute() -> tuple[list[Run], dict[int, Shown]]:
        found, runs = _physician_runs(patient.state, kind, days_start, days_end, physician)
        physicians.update((doctor.pk, doctor) for doctor in found)
        # Sorted once here rather than by every search that reuses a kept side. By first
        # start only: the runs were made physician by physician in pk order (candidates
        # come by pk) and the sort is stable, so ties stay by physician (ints compare
        # faster than tuples: ~5,800 runs in a 30-day search).
        runs.sort(key=_FIRST)
        return runs, {doctor.pk: physician_shown(doctor) for doctor in found}

    if kept:
        shape = f"{patient.state}:{kind}:{physician.pk if physician else '*'}:"
        shape += f"{microseconds_of(days_start)}:{microseconds_of(days_end)}"
        runs, shown = physician_runs_kept(shape, compute)
    else:
        runs, shown = compute()
    slots = _for_patient(runs, patient, kind, low, high, physicians)
    slots.shown = shown
    return slots


def slot_offered(
    *,
    patient: Patient,
    physician: PhysicianProfile,
    kind: str,
    starts_at: datetime,
    now: datetime | None = None,
) -> bool:
    """Whether `starts_at` is an open slot of `kind` with `physician` for `patient` now
    (always from the database: booking decides on it)."""
    earliest, latest = booking_window(now)
    if not earliest <= starts_at <= latest:
        return False
    end = starts_at + timedelta(0, 1)
    found, runs = _physician_runs(patient.state, kind, starts_at, end, physician)
    slots = _for_patient(runs, patient, kind, starts_at, end, {d.pk: d for d in found})
    return any(slot.starts_at == starts_at for slot in slots)


def _for_patient(
    runs: list[Run],
    patient: Patient,
    kind: str,
    low: datetime,
    high: datetime,
    physicians: dict[int, PhysicianProfile],
) -> OpenSlots:
    """The physicians' runs in [low, high) (the notice, the horizon) whose visits meet
    none of the patient's own active appointments."""
    length = appointment_minutes(kind)
    reach = length // _MICROSECOND
    step = _step()
    runs = runs_within(runs, microseconds_of(low), microseconds_of(high), step)
    found = _THEIRS.row(patient_pk=patient.pk, low=low, reach_end=high + length)
    starts, ends = found if found is not None else ([], [])
    # A start s meets one of them, [b, e), when b - length < s < e.
    runs = runs_without(runs, [(b - reach, e) for b, e in zip(starts, ends, strict=True)], step)
    return OpenSlots(runs, step=step, length=length, physicians=physicians)


def patient_appointments_queryset(
    *, patient_pk: int, low: datetime, reach_end: datetime
) -> QuerySet[Patient, Any]:
    """The patient's active appointments that end after `low` and start before
    `reach_end`: their starts and their ends (microseconds), in start order, as one row."""
    theirs = Appointment.objects.filter(
        patient=OuterRef("pk"),
        status__in=ACTIVE_STATUSES,
        starts_at__lt=reach_end,
        ends_at__gt=low,
    ).order_by("starts_at", "pk")
    return Patient.objects.filter(pk=patient_pk).values_list(
        ArraySubquery(theirs.values(micro=_EpochMicroseconds("starts_at"))),
        ArraySubquery(theirs.values(micro=_EpochMicroseconds("ends_at"))),
    )


# The same for every search but for its values: compiled once (core.compiled); its ORM
# build cost ten times its run, on the kept search too.
_THEIRS: Final = CompiledOnce(
    patient_appointments_queryset,
    (
        {
            "patient_pk": -1_000_001,
            "low": datetime(1901, 1, 1, tzinfo=UTC),
            "reach_end": datetime(1902, 2, 2, tzinfo=UTC),
        },
        {
            "patient_pk": -1_000_002,
            "low": datetime(1903, 3, 3, tzinfo=UTC),
            "reach_end": datetime(1904, 4, 4, tzinfo=UTC),
        },
    ),
)


def _step() -> int:
    return timedelta(minutes=settings.SCHEDULING_SLOT_STEP_MINUTES) // _MICROSECOND


def _physician_runs(
    state: str,
    kind: str,
    range_start: datetime,
    range_end: datetime,
    physician: PhysicianProfile | None,
) -> tuple[list[PhysicianProfile], list[Run]]:
    """The candidates, and their open starts in [range_start, range_end) as runs.

    The arithmetic runs on integer microseconds (instants compare and bisect as plain
    ints: aware datetimes would ask their zone at every comparison), since 2000-01-01 UTC
    as the busy ranges come (scheduling.selectors.slot_busy); the runs made are on the
    1970 epoch as every run is. The work grows with windows and appointments, not with
    slots."""
    length = appointment_minutes(kind)
    physicians = candidates_found(state, range_start, range_end, physician)
    ids = [doctor.pk for doctor in physicians]
    # A start near the range's end meets appointments up to its end plus the buffer.
    reach = length + max((buffer_of(doctor) for doctor in physicians), default=timedelta(0))
    known: KnownDays = {}
    with busy_ranges(ids, range_start - timedelta(days=1), range_end + reach) as read_busy:
        # Worked out while the server reads the busy ranges: what the candidates' rows
        # say (physician_authority's answers, hours, overrides), the calendar, the windows.
        _, treats, rules, overrides = candidate_facts(physicians, state)
        search = _Search(
            length=length // _MICROSECOND,
            step=_step(),
            low=microseconds_of(range_start) - Y2K,
            high=microseconds_of(range_end) - Y2K,
            calendar=_PracticeCalendar(range_start, range_end, epoch=Y2K),
        )
        windows = [
            windows_of(
                doctor,
                rules.get(doctor.pk, {}),
                overrides.get(doctor.pk, {}),
                range_start,
                range_end,
                known,
            )
            for doctor in physicians
        ]
        for doctor_windows in windows:
            search.plan(doctor_windows)
        busy = read_busy()
    no_one = Busy([], [])
    runs: list[Run] = []
    for doctor, doctor_windows in zip(physicians, windows, strict=True):
        doctor_busy = busy.get(doctor.pk, no_one)
        runs += search.runs_of(doctor, treats[doctor.pk], doctor_windows, doctor_busy)
    return physicians, runs


# A window as the search walks it (microseconds since 2000-01-01 UTC): its start, the
# first and last start it can offer in the range, the practice date of the first, and
# whether every start of it falls on that date.
_Plan = tuple[int, int, int, date, bool]


@dataclass
class _Search:
    """What one search shares across its physicians (instants and lengths in
    microseconds since 2000-01-01 UTC)."""

    length: int
    step: int
    low: int
    high: int
    calendar: _PracticeCalendar
    # Windows planned, by the identity of their list (windows_of shares one list across
    # physicians of the same zone and hours): (the list, its plan).
    plans: dict[int, tuple[list[tuple[int, int]], list[_Plan]]] = field(default_factory=dict)

    def plan(self, windows: list[tuple[int, int]]) -> list[_Plan]:
        """The windows that can offer a start in [low, high), as runs_of walks them."""
        found = self.plans.get(id(windows))
        if found is not None and found[0] is windows:
            return found[1]
        low, high, length, day_of = self.low, self.high, self.length, self.calendar.day_of
        plan: list[_Plan] = []
        day_from = day_to = 0
        on = date.min
        for window_start, window_end in windows:
            window_start -= Y2K
            earliest = window_start if window_start > low else low
            latest = window_end - Y2K - length
            if latest >= high:
                latest = high - 1
            if earliest > latest:
                continue
            if not day_from <= earliest < day_to:  # windows come in order: days repeat
                on, day_from, day_to = day_of(earliest)
            plan.append((window_start, earliest, latest, on, latest < day_to))
        self.plans[id(windows)] = (windows, plan)
        return plan

    def runs_of(
        self,
        doctor: PhysicianProfile,
        treats: Treats,
        windows: list[tuple[int, int]],
        doctor_busy: Busy,
    ) -> list[Run]:
        """The doctor's open starts in [low, high) as runs: inside a window, on the step
        grid from the window's start, ending inside it; meeting none of their appointments
        plus buffer; on a day physician_authority lets them treat in the patient's state.

        A start s meets an appointment [b, e) (with its buffer) when b - blocked < s < e:
        an open interval of starts. Within a window the free starts lie between the
        running maximum of the ends so far (`max_ends`, or the window's first start) and
        the next appointment's first blocked start (or the window's last start): one gap
        per appointment, most of them empty once laid on the grid. This runs once per
        appointment of the range (~10,000 in a 30-day search): one comprehension on ints."""
        blocked = self.length + buffer_of(doctor) // _MICROSECOND
        pk, step, y2k = doctor.pk, self.step, Y2K
        max_ends = doctor_busy.max_ends
        # Each appointment's first start it blocks is b - blocked (exclusive).
        lows = [start - blocked for start in doctor_busy.starts]
        treats_on = treats.on
        runs: list[Run] = []
        for window_start, earliest, latest, on, one_day in self.plan(windows):
            # A window whose starts all fall on one practice day (nearly all do) is
            # decided once, and its pieces need no cutting at midnight.
            if one_day and not treats_on(on):
                continue
            # The appointments that can meet a start in [earliest, latest], in start
            # order: those ending after earliest (by their running maximum) and blocking
            # from before latest.
            index = bisect.bisect_right(max_ends, earliest)
            beyond = bisect.bisect_left(lows, latest)
            frees = max_ends[index:beyond]
            frees.insert(0, earliest)
            takens = lows[index:beyond]
            takens.append(latest)
            # The grid starts (from the window's start) in [free, taken]: the first at or
            # after free, the last at or before taken.
            found = [
                (first + y2k, pk, last + y2k)
                for free, taken in zip(frees, takens, strict=True)
                if (first := free + (window_start - free) % step)
                <= (last := taken - (taken - window_start) % step)
            ]
            if one_day:
                runs += found
            else:
                for first, _, last in found:
                    self._by_day(runs, pk, treats, first - y2k, last - y2k)
        return runs

    def _by_day(self, runs: list[Run], pk: int, treats: Treats, first: int, last: int) -> None:
        """The starts first, first + step, ..., last cut at the practice calendar's
        midnights, on the days the doctor may treat (runs made on the 1970 epoch)."""
        step = self.step
        while first <= last:
            on, _, day_to = self.calendar.day_of(first)
            day_last = min(last, first + (day_to - 1 - first) // step * step)
            if treats.on(on):
                runs.append((first + Y2K, pk, day_last + Y2K))
            first = day_last + step


_MICROSECOND = timedelta(microseconds=1)
_FIRST = operator.itemgetter(0)


class _EpochMicroseconds(Func):
    """A timestamptz column as integer microseconds since the epoch (exact: EXTRACT
    answers a numeric with the microseconds), read as an int, not parsed as a datetime."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


class _PracticeCalendar:
    """`practice_date` for instants in microseconds: the practice calendar's midnights
    around the range (each the first instant of its date, as `practice_date` sees it),
    looked up by bisection."""

    def __init__(self, range_start: datetime, range_end: datetime, epoch: int = 0) -> None:
        """`epoch`: where the instants count from, in microseconds since 1970 (UTC)."""
        zone = ZoneInfo(settings.PRACTICE_TIME_ZONE)
        self.epoch = epoch
        day = practice_date(range_start) - timedelta(days=2)
        last = practice_date(range_end) + timedelta(days=2)
        self.days: list[date] = []
        self.midnights: list[int] = []
        while day <= last:
            self.days.append(day)
            midnight = datetime.combine(day, time.min, tzinfo=zone)
            self.midnights.append(microseconds_of(midnight) - epoch)
            day += timedelta(days=1)

    def day_of(self, microseconds: int) -> tuple[date, int, int]:
        """The practice date of the instant and the instants [from, to) it spans."""
        index = bisect.bisect_right(self.midnights, microseconds) - 1
        if 0 <= index < len(self.days) - 1:
            return self.days[index], self.midnights[index], self.midnights[index + 1]
        # Outside the precomputed days (never, for a search's own range): no span cached.
        on = practice_date(instant_of(microseconds + self.epoch))
        return on, microseconds, microseconds + 1

"""Whether one start is an open slot with one physician: what booking decides on.

The slot search (scheduling.selectors.slots) is the definition of an open slot; asking it
for one start (`slot_offered`) reads every credential, rule, override and appointment of
the physician around the day: 8 queries and a search's Python for one answer. Booking asks
here instead, with the same pieces for that one start: the physician's hours that day
(scheduling.selectors.office_hours, the search's own: two queries), then one SELECT of two
EXISTS: whether they may treat in the patient's state on the visit's practice date
(accounts' `physicians_licensed_in`, the queryset spelling of physician_authority's
`may_treat`), and whether an active appointment of the physician (with the buffer: the
exclusion constraint's range) or of the patient meets the visit. Three queries when the
caller selected the physician's schedule, fewer when the hours already refuse.

`tests/scheduling/test_booking_slot_check.py` holds it to `slot_offered` case by case. Where they
differ, this one follows the constraint: an appointment of the physician starting inside
the new visit's buffer refuses the slot here; the search (which reads appointments only up
to the visit's end) offers it and the INSERT then fails on the constraint (409
`slot_taken` instead of `slot_unavailable`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import PhysicianProfile
from accounts.selectors import physicians_licensed_in
from core.clock import practice_date
from patients.models import Patient
from scheduling.models import ACTIVE_STATUSES, Appointment
from scheduling.selectors.office_hours import overrides_by_physician, rules_by_physician, windows_of
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
    (always from the database: booking decides on it). The buffer is the physician's
    schedule's: select `schedule` with the physician to spare its query."""
    earliest, latest = booking_window(now or timezone.now())
    if not earliest <= starts_at <= latest:
        return False
    length = appointment_minutes(kind)
    if not _within_hours(physician, starts_at, length):
        return False
    ends_at = starts_at + length
    meets = Appointment.objects.filter(
        Q(
            physician=physician,
            starts_at__lt=ends_at + buffer_of(physician),
            blocked_until__gt=starts_at,
        )
        | Q(patient=patient, starts_at__lt=ends_at, ends_at__gt=starts_at),
        status__in=ACTIVE_STATUSES,
    )
    may_treat = physicians_licensed_in(patient.state, on=practice_date(starts_at))
    verdict = (
        PhysicianProfile.objects.filter(pk=physician.pk)
        .annotate(
            may_treat=Exists(may_treat.filter(pk=OuterRef("pk"))),
            meets=Exists(meets),
        )
        .values_list("may_treat", "meets")
        .first()
    )
    return verdict == (True, False)


def _within_hours(physician: PhysicianProfile, starts_at: datetime, length: timedelta) -> bool:
    """Inside one of the doctor's windows, on the step grid from the window's start, and
    ending inside it (the search's `runs_of`, for one start)."""
    ids = [physician.pk]
    end = starts_at + _MICROSECOND
    rules = rules_by_physician(ids).get(physician.pk, {})
    overrides = overrides_by_physician(ids, practice_date(starts_at), practice_date(end))
    step = timedelta(minutes=settings.SCHEDULING_SLOT_STEP_MINUTES) // _MICROSECOND
    start, reach = microseconds_of(starts_at), length // _MICROSECOND
    return any(
        window_start <= start <= window_end - reach and (start - window_start) % step == 0
        for window_start, window_end in windows_of(
            physician, rules, overrides.get(physician.pk, {}), starts_at, end
        )
    )

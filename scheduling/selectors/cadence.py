"""When a patient's next check-in is due: the one definition of "due" and "overdue".

Prescriptions refuse refills while `check_in_status(patient).overdue` is true: that name
and its meaning are stable.

- interval: the patient's `CheckInCadence.interval_days` (set by a physician), else
  `CHECK_IN_INTERVAL_DAYS` (default 28).
- due_on: the patient's local date (Patient.time_zone) of their last completed check-in
  (`completed_at`, else the visit's end) plus the interval. With no completed check-in
  yet, it counts from the approval of their intake (`decided_at`, else `submitted_at`);
  a patient without an approved intake is not in care and nothing is due (due_on None).
- due: today, in the patient's zone, is on or after due_on.
- overdue: today is after due_on, i.e. from the day after the due date (no other grace):
  due on the 29th means overdue on the 30th.
- booked_for: the start of the patient's upcoming check-in (selectors.appointments.
  upcoming: booked or in progress and not yet over), if any; one left in progress and
  never completed does not count once over. It does not clear `due` or `overdue` (a
  booking weeks away must not unblock a refill); it does stop the "time to book" nudge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from patients.models import Intake, IntakeStatus, Patient
from patients.selectors.measurement import patient_zone
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CheckInCadence,
)
from scheduling.selectors.appointments import upcoming


@dataclass(frozen=True, slots=True)
class CheckInStatus:
    interval_days: int
    last_check_in_at: datetime | None
    due_on: date | None  # None: not in care (no approved intake)
    due: bool
    overdue: bool
    booked_for: datetime | None


def default_interval_days() -> int:
    return int(settings.CHECK_IN_INTERVAL_DAYS)


def _completed_at() -> Coalesce:
    return Coalesce("completed_at", "ends_at")


def with_check_in_facts(patients: QuerySet[Patient], now: datetime) -> QuerySet[Patient]:
    """Annotate each patient with what their status is computed from: one query
    (`check_in_status_of` reads the annotated patient; its zone is all of the row it
    needs)."""
    check_ins = Appointment.objects.filter(patient=OuterRef("pk"), kind=AppointmentKind.CHECK_IN)
    last_check_in = (
        check_ins.filter(status=AppointmentStatus.COMPLETED)
        .annotate(done_at=_completed_at())
        .order_by("-done_at")
        .values("done_at")[:1]
    )
    booked = check_ins.filter(upcoming(now)).order_by("starts_at").values("starts_at")[:1]
    approved = (
        Intake.objects.filter(patient=OuterRef("pk"), status=IntakeStatus.APPROVED)
        .annotate(approved_at=Coalesce("decided_at", "submitted_at", "created_at"))
        .order_by("-approved_at")
        .values("approved_at")[:1]
    )
    interval = CheckInCadence.objects.filter(patient=OuterRef("pk")).values("interval_days")[:1]
    return patients.annotate(
        check_in_last_at=Subquery(last_check_in),
        check_in_booked_for=Subquery(booked),
        check_in_approved_at=Subquery(approved),
        check_in_interval_days=Subquery(interval),
    )


def check_in_status_of(patient: Patient, now: datetime) -> CheckInStatus:
    interval = getattr(patient, "check_in_interval_days", None) or default_interval_days()
    last: datetime | None = getattr(patient, "check_in_last_at", None)
    approved: datetime | None = getattr(patient, "check_in_approved_at", None)
    booked: datetime | None = getattr(patient, "check_in_booked_for", None)
    start = last or approved
    if start is None:
        return CheckInStatus(interval, None, None, due=False, overdue=False, booked_for=booked)
    zone = patient_zone(patient)
    today = timezone.localdate(now, timezone=zone)
    due_on = timezone.localdate(start, timezone=zone) + timedelta(days=interval)
    return CheckInStatus(
        interval_days=interval,
        last_check_in_at=last,
        due_on=due_on,
        due=today >= due_on,
        overdue=today > due_on,
        booked_for=booked,
    )


def check_in_statuses(
    patients: QuerySet[Patient], *, now: datetime | None = None
) -> Iterator[tuple[Patient, CheckInStatus]]:
    """Each patient of the queryset with their check-in status, in one query whatever
    their number (the nudge task's bulk read)."""
    now = now or timezone.now()
    for patient in list(with_check_in_facts(patients, now)):
        yield patient, check_in_status_of(patient, now)


def check_in_status(patient: Patient, *, now: datetime | None = None) -> CheckInStatus:
    """The patient's check-in status (see the module docstring): `.overdue` is what
    prescriptions ask before a refill. One query."""
    # Only the zone of the row: the encrypted columns are not decrypted again.
    patients = Patient.objects.filter(pk=patient.pk).only("time_zone")
    ((_, status),) = check_in_statuses(patients, now=now)
    return status


def patients_in_care() -> QuerySet[Patient]:
    """Patients with an approved intake, with their user (for messages)."""
    approved = Intake.objects.filter(patient=OuterRef("pk"), status=IntakeStatus.APPROVED)
    return Patient.objects.filter(Exists(approved)).select_related("user")

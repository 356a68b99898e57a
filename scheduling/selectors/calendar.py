"""Calendars: a patient's own appointments (upcoming or past), a physician's agenda for a
day or a week in the physician's zone, and the appointments of a physician's iCal feed.

Each read is one query whatever its size; the caller audits what it shows. None of these
reads a visit note: the rows they load leave the note column out altogether."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import PhysicianProfile, Role, User
from core.errors import NotFound
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus, PhysicianSchedule
from scheduling.selectors.appointments import upcoming
from scheduling.selectors.availability import physician_zone

When = Literal["upcoming", "past"]

# What a calendar row needs: never the visit note, the cancel reason or the video room.
_ROW_FIELDS = (
    "public_id",
    "kind",
    "status",
    "starts_at",
    "ends_at",
    "late_cancellation",
)


# --- patients ----------------------------------------------------------------------------


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    """The patient's own appointments (ordered by appointments_when), each with its
    physician and their schedule (name, title) in the same query."""
    rows = Appointment.objects.filter(patient=patient).select_related("physician__schedule")
    return rows.only(
        *_ROW_FIELDS,
        "physician__first_name",
        "physician__last_name",
        "physician__schedule__title",
    )


def appointments_when(
    rows: QuerySet[Appointment], *, when: When, now: datetime
) -> QuerySet[Appointment]:
    """Upcoming: booked or in progress and not yet over, soonest first. Past: everything
    else (over, completed, no-show, canceled), newest first."""
    if when == "upcoming":
        return rows.filter(upcoming(now)).order_by("starts_at", "id")
    return rows.exclude(upcoming(now)).order_by("-starts_at", "-id")


def physician_title(physician: PhysicianProfile) -> str:
    """The title on the physician's public profile ("MD, Psychiatrist"), blank without one
    (reads the schedule loaded with the physician)."""
    try:
        return physician.schedule.title
    except PhysicianSchedule.DoesNotExist:
        return ""


# --- physicians: the agenda --------------------------------------------------------------


@dataclass(frozen=True)
class AgendaOwner:
    physician: PhysicianProfile
    time_zone: str


def agenda_owner_of(user: User) -> AgendaOwner:
    """The signed-in physician and the zone their agenda is drawn in."""
    physician = (
        PhysicianProfile.objects.select_related("schedule", "user").filter(user=user).first()
    )
    if physician is None:
        raise NotFound("No physician profile.", code="no_physician_profile")
    return AgendaOwner(physician, _zone_of(physician))


def agenda_owner_by_public_id(public_id: str) -> AgendaOwner:
    """Any physician, by their user's public id (for operations staff); 404 for anyone
    who is not a physician."""
    physician = (
        PhysicianProfile.objects.select_related("schedule", "user")
        .filter(user__public_id=public_id, user__role=Role.PHYSICIAN)
        .first()
    )
    if physician is None:
        raise NotFound("No such physician.")
    return AgendaOwner(physician, _zone_of(physician))


def _zone_of(physician: PhysicianProfile) -> str:
    return physician_zone(physician).key


def local_day_bounds(day: date, days: int, zone: str) -> tuple[datetime, datetime]:
    """[midnight of `day`, midnight `days` later) in `zone`, as aware instants: a day
    across a DST change is 23 or 25 hours long."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=days), datetime.min.time(), tzinfo=tz)
    return start, end


def agenda(owner: AgendaOwner, *, day: date, days: int) -> list[Appointment]:
    """The physician's appointments starting in [day, day + days) in their zone, soonest
    first, canceled ones left out; each with its patient's public id and legal names
    (for initials) and nothing else of the record."""
    start, end = local_day_bounds(day, days, owner.time_zone)
    rows = Appointment.objects.filter(
        physician=owner.physician, starts_at__gte=start, starts_at__lt=end
    ).exclude(status=AppointmentStatus.CANCELED)
    return _with_patient_initials(rows)


def _with_patient_initials(appointments: QuerySet[Appointment]) -> list[Appointment]:
    """Rows that show the patient only by public id and initials: no other column of the
    patient is read."""
    return list(
        appointments.select_related("patient")
        .only(
            *_ROW_FIELDS,
            "patient__public_id",
            "patient__legal_first_name",
            "patient__legal_last_name",
        )
        .order_by("starts_at", "id")
    )


def initials(patient: Patient) -> str:
    """ "JR" for Jordan Rivers: the first letter of each legal name, "?" for a blank one."""
    return "".join((name.strip()[:1] or "?").upper() for name in (
        patient.legal_first_name, patient.legal_last_name
    ))  # fmt: skip


# --- the iCal feed -----------------------------------------------------------------------

# The feed reaches back this far; forward, to the booking horizon.
FEED_PAST_DAYS = 30
FEED_STATUSES = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.IN_PROGRESS,
    AppointmentStatus.COMPLETED,
)


def physician_by_ical_token_hash(token_hash: str) -> PhysicianProfile | None:
    """The physician whose current feed secret hashes to `token_hash` (a revoked or
    replaced secret matches no one, nor does the secret of a deactivated account: a
    physician who has left stops seeing their patients' visits everywhere)."""
    if not token_hash:
        return None
    return (
        PhysicianProfile.objects.select_related("user")
        .filter(
            schedule__ical_token_hash=token_hash,
            user__is_active=True,
            user__role=Role.PHYSICIAN,
        )
        .first()
    )


def ical_feed_appointments(physician: PhysicianProfile, *, now: datetime) -> list[Appointment]:
    """Booked, in-progress and completed visits from FEED_PAST_DAYS ago to the
    booking horizon, soonest first. Canceled and no-show visits are left out of the feed."""
    start = now - timedelta(days=FEED_PAST_DAYS)
    end = now + timedelta(days=settings.SCHEDULING_HORIZON_DAYS + 1)
    rows = Appointment.objects.filter(
        physician=physician,
        status__in=FEED_STATUSES,
        starts_at__gte=start,
        starts_at__lt=end,
    )
    return _with_patient_initials(rows)

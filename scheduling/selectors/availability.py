"""Reads of availability and of physicians as patients see them.

Who may manage a schedule is a queryset question: a physician reaches their own, an ops
admin any physician's; anything else is 404. Licensed states come from
accounts.selectors.physician_authority (active, unexpired license, active account), read
over prefetched credentials so a page of profiles costs the same queries at any size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import PhysicianProfile, Role, State, StateLicense, User
from accounts.selectors import physician_authority, physicians_licensed_in
from core.clock import practice_today
from core.errors import NotFound
from scheduling.models import AvailabilityOverride, PhysicianSchedule, WeeklyAvailability
from scheduling.selectors.slot_runs import Shown


def _physicians() -> QuerySet[PhysicianProfile]:
    return PhysicianProfile.objects.filter(user__role=Role.PHYSICIAN).select_related("user")


def own_physician(viewer: User) -> PhysicianProfile:
    """The caller's own physician profile (404 for a physician account without one)."""
    physician = _physicians().filter(user=viewer).first()
    if physician is None:
        raise NotFound("No physician profile for this account.")
    return physician


def schedule_physician_for(viewer: User, physician_id: Any) -> PhysicianProfile:
    """The physician (named by their user's public id) whose availability `viewer` may
    manage: any for an ops admin, only themselves for a physician; else 404."""
    physicians = _physicians().filter(user__public_id=physician_id)
    if viewer.role == Role.PHYSICIAN:
        physicians = physicians.filter(user=viewer)
    elif viewer.role != Role.OPS_ADMIN:
        physicians = physicians.none()
    physician = physicians.first()
    if physician is None:
        raise NotFound("No such physician.")
    return physician


@dataclass(frozen=True)
class ScheduleView:
    physician: PhysicianProfile
    schedule: PhysicianSchedule  # unsaved defaults when the physician has set nothing yet
    weekly: list[WeeklyAvailability]


def schedule_of(physician: PhysicianProfile) -> ScheduleView:
    schedule = PhysicianSchedule.objects.filter(physician=physician).first()
    return ScheduleView(
        physician=physician,
        schedule=schedule or PhysicianSchedule(physician=physician),
        weekly=list(WeeklyAvailability.objects.filter(physician=physician)),
    )


def overrides_of(physician: PhysicianProfile) -> QuerySet[AvailabilityOverride]:
    """By date, a whole day first, then by start."""
    return AvailabilityOverride.objects.filter(physician=physician).order_by(
        "date", F("start_time").asc(nulls_first=True), "id"
    )


# Physicians as patients see them.


def public_physicians(
    *, state: str | None = None, language: str | None = None
) -> QuerySet[PhysicianProfile]:
    """Physicians with an active account, their public profile and credentials loaded in a
    fixed number of queries; `state` keeps those licensed there today (the accounts rule),
    `language` those who list that ISO 639 code."""
    physicians = (
        _physicians()
        .filter(user__is_active=True)
        .select_related("schedule")
        .prefetch_related(
            Prefetch("licenses", queryset=StateLicense.objects.order_by("state")),
            "dea_registrations",
            "cds_registrations",
        )
        .order_by("last_name", "first_name", "id")
    )
    if state is not None:
        physicians = only_licensed_in(physicians, state)
    if language is not None:
        physicians = only_speaking(physicians, language)
    return physicians


def only_licensed_in(
    physicians: QuerySet[PhysicianProfile], state: str
) -> QuerySet[PhysicianProfile]:
    return physicians.filter(pk__in=physicians_licensed_in(state).values("pk"))


def only_speaking(
    physicians: QuerySet[PhysicianProfile], language: str
) -> QuerySet[PhysicianProfile]:
    return physicians.filter(schedule__languages__contains=[language.strip().lower()])


def physician_shown(physician: PhysicianProfile) -> Shown:
    """What a slot shows of the physician (select `user` and `schedule`)."""
    return Shown(physician.user.public_id, str(physician), schedule_or_blank(physician).title)


def public_physician(physician_id: Any) -> PhysicianProfile:
    physician = public_physicians().filter(user__public_id=physician_id).first()
    if physician is None:
        raise NotFound("No such physician.")
    return physician


def schedule_or_blank(physician: PhysicianProfile) -> PhysicianSchedule:
    """The physician's schedule (select_related by public_physicians), or a blank profile."""
    try:
        return physician.schedule
    except ObjectDoesNotExist:
        return PhysicianSchedule(physician=physician)


def physician_zone(physician: PhysicianProfile) -> ZoneInfo:
    """The physician's own zone (weekly rules, overrides and the agenda are in it): their
    schedule's, else the schedule's default. Stored zones were validated on the way in."""
    return ZoneInfo(schedule_or_blank(physician).time_zone)


def physician_today(physician: PhysicianProfile) -> date:
    return timezone.localdate(timezone=physician_zone(physician))


@dataclass(frozen=True)
class Disclosure:
    """What New Jersey requires a patient to see before a telehealth visit: the provider's
    identity, license number (for the patient's state) and board certification."""

    state: str
    name: str
    title: str
    license_number: str
    board_certification: str


def physician_disclosure(physician: PhysicianProfile, state: str) -> Disclosure:
    """The physician's identity, title, board certification and license number in `state`
    (blank without a license there): what a patient in `state` sees before a visit.
    Reads prefetched `licenses` and a selected `schedule` when present."""
    license_number = next(
        (lic.number for lic in physician.licenses.all() if lic.state == state), ""
    )
    schedule = schedule_or_blank(physician)
    return Disclosure(
        state=state,
        name=f"{physician.first_name} {physician.last_name}".strip(),
        title=schedule.title,
        license_number=license_number,
        board_certification=schedule.board_certification,
    )


def physician_disclosures(physician: PhysicianProfile) -> list[Disclosure]:
    """One disclosure per practice state the physician may treat in today
    (physician_authority). Prefetch `licenses`, `dea_registrations`, `cds_registrations`
    and select `user` and `schedule` to read them without queries."""
    today = practice_today()
    return [
        physician_disclosure(physician, state)
        for state in State.values
        if physician_authority(physician, state, on=today).may_treat
    ]

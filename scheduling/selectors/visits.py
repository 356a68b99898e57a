"""Reads for the video visit: which visits a user takes part in (authorization as a
queryset: anyone else's visit is 404), when a visit's room is open, and whether a
completed visit can support a prescription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings

from accounts.models import Role, State, User
from accounts.selectors import physician_authority, physician_with_credentials
from core.clock import practice_date
from core.errors import NotFound
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.appointments import appointment_visible_to
from scheduling.video.base import ParticipantRole


def visit_of_participant(user: User, public_id: UUID | str) -> Appointment:
    """One visit `user` takes part in, as its patient or its physician, else NotFound:
    the appointments `user` may see (selectors.appointments), ops admins left out (they
    see visits but do not join them)."""
    if user.role == Role.OPS_ADMIN:
        raise NotFound("No such appointment.")
    return appointment_visible_to(user, public_id)


def participant_role(visit: Appointment, user: User) -> ParticipantRole:
    return "physician" if visit.physician.user_id == user.pk else "patient"


def room_opens_at(visit: Appointment) -> datetime:
    return visit.starts_at - settings.VIDEO_ROOM_OPENS_BEFORE


def room_closes_at(visit: Appointment) -> datetime:
    return visit.ends_at + settings.VIDEO_ROOM_CLOSES_AFTER


# Where a prescription may follow the visit: the practice's states (DOMAIN.md).
PRESCRIBING_STATES = frozenset(State.values)


@dataclass(frozen=True)
class PrescribingVisit:
    """Whether a visit can support a prescription, and every reason it cannot."""

    eligible: bool
    confirmed_state: str
    reasons: tuple[str, ...]


def prescribing_visit_state(visit: Appointment) -> PrescribingVisit:
    """The one definition of "this visit can lead to a prescription": a completed video
    visit, standard of care attested, with the patient confirmed in FL or NJ at its start,
    and the physician then allowed to treat there (an active license on the visit's date).
    Prescribing rules of their own (DEA, NJ CDS, the PDMP check) stay with prescriptions."""
    reasons: list[str] = []
    if visit.status != AppointmentStatus.COMPLETED:
        reasons.append("visit_not_completed")
    if not visit.video_visit:
        reasons.append("not_a_video_visit")
    if not visit.standard_of_care_attested:
        reasons.append("standard_of_care_not_attested")
    state = visit.confirmed_state
    if not state:
        reasons.append("state_not_confirmed")
    elif state not in PRESCRIBING_STATES:
        reasons.append("patient_outside_practice_states")
    else:
        physician = physician_with_credentials(visit.physician.user_id)
        moment = visit.started_at or visit.starts_at
        on = practice_date(moment)
        if physician is None or not physician_authority(physician, state, on=on).may_treat:
            reasons.append("physician_not_licensed_in_state")
    return PrescribingVisit(eligible=not reasons, confirmed_state=state, reasons=tuple(reasons))


# Reasons the visit's own completion clears (complete it, attesting the standard of care).
COMPLETION_REASONS = frozenset(
    {"visit_not_completed", "not_a_video_visit", "standard_of_care_not_attested"}
)


def prescribing_blocked_by(visit: Appointment) -> tuple[str, ...]:
    """What keeps `visit` from supporting a prescription even once completed: the
    patient's confirmed state, or the physician's authority there (a license that lapsed
    after booking). The start and completion answers carry it, so the physician knows at
    the start of the visit; the visit itself may still be held (DOMAIN.md)."""
    return tuple(r for r in prescribing_visit_state(visit).reasons if r not in COMPLETION_REASONS)

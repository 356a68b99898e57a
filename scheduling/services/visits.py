"""The video visit: joining its room, and its lifecycle.

    booked ──start──> in_progress ──complete──> completed
      └──(never started, SCHEDULING_NO_SHOW_AFTER past its end)──> no_show

(canceling a booked visit belongs to booking). Any other move is a 409
`invalid_transition` naming both states. Each service locks the appointment's row, so two
requests (or a request and the no-show task) never both move it.

* `visit_join`: the visit's patient or physician gets their own join link, from
  VIDEO_ROOM_OPENS_BEFORE before the start until VIDEO_ROOM_CLOSES_AFTER after the end
  (409 `room_not_open` / `room_closed`). The room is made on the first join and kept on
  the appointment; concurrent first joins wait on the row lock and make one room. Every
  join is audited with the participant's role. Video provider trouble is a 503 (see
  `VideoUnavailable`), never a 500.
* `visit_start`: the physician starts the visit with the state the patient confirms they
  are in (any US state or territory: a visit outside FL and NJ can be held, it just
  cannot lead to a prescription; see selectors.visits.prescribing_visit_state). The
  answer says what already stands in the way of a prescription (`prescribing_blocked_by`:
  e.g. a license that lapsed after booking), so the physician knows at the start.
* `visit_complete`: the physician records the standard-of-care attestation (must be true)
  and the visit note (encrypted at rest); the visit counts as a video visit.
* `appointments_mark_no_show`: the beat task's work, a conditional UPDATE per batch.
* `unfinished_visits_remind`: a visit started and never completed counts as no check-in
  (the cadence, and the refills waiting on it, see it as missing), so its physician gets
  one email UNFINISHED_VISIT_REMINDER_AFTER its end asking to complete it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from notifications.services import MessageDraft, messages_schedule
from scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors.visits import participant_role, room_closes_at, room_opens_at
from scheduling.video.base import (
    JoinLink,
    ParticipantRole,
    PermanentVideoError,
    TransientVideoError,
    VideoRoom,
    get_video_backend,
)

logger = logging.getLogger(__name__)

# The 50 states, DC and the inhabited territories (USPS codes).
US_STATE_CODES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
    "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
    "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "AS", "GU", "MP", "PR", "VI",
)  # fmt: skip

S = AppointmentStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.BOOKED: frozenset({S.IN_PROGRESS, S.NO_SHOW, S.CANCELED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.CANCELED: frozenset(),
}
NO_SHOW_BATCH = 500


class VideoUnavailable(ApplicationError):
    """The video provider failed. A transient failure (outage, timeout) says when to try
    again; a permanent one (the provider refused our request: configuration) is logged at
    ERROR for the team and still a 503 to the caller, who can do nothing about it."""

    status_code = 503
    code = "video_unavailable"
    default_message = "Video visits are temporarily unavailable. Please try again shortly."


@dataclass(frozen=True)
class VisitJoin:
    link: JoinLink
    role: ParticipantRole
    opens_at: datetime
    closes_at: datetime


def transition_refuse(visit: Appointment, to: str) -> None:
    """409 `invalid_transition` unless ALLOWED_TRANSITIONS lets `visit` move to `to`: the
    one lifecycle rule, for visits and for booking's cancel and reschedule alike."""
    if to not in ALLOWED_TRANSITIONS[visit.status]:
        raise Conflict(
            f"A visit cannot go from {visit.status} to {to}.",
            code="invalid_transition",
            fields={"status": [f"{visit.status} -> {to} is not allowed."]},
        )


def _refuse_outside_room_window(visit: Appointment, now: datetime) -> None:
    opens, closes = room_opens_at(visit), room_closes_at(visit)
    if now < opens:
        raise Conflict(
            f"The visit room opens at {opens.isoformat()}.",
            code="room_not_open",
        )
    if now >= closes:
        raise Conflict("The visit room has closed.", code="room_closed")


def _locked(visit: Appointment) -> Appointment:
    """The visit's row, locked until the transaction ends, with fresh values."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "physician")
        .get(pk=visit.pk)
    )


def _require_physician_of(visit: Appointment, actor: User) -> None:
    if visit.physician.user_id != actor.pk:
        raise NotFound()


@contextmanager
def _video_call() -> Iterator[None]:
    try:
        yield
    except TransientVideoError as error:
        code = error.code
        failure: ApplicationError = VideoUnavailable(headers={"Retry-After": "30"})
    except PermanentVideoError as error:
        code = error.code
        logger.error("video backend refused a request: code=%s", code)
        failure = VideoUnavailable(
            "Video visits are unavailable right now. Our team has been told.",
            code="video_provider_error",
            headers={"Retry-After": "300"},
        )
    else:
        return
    raise failure


def _room_of(visit: Appointment) -> VideoRoom:
    return VideoRoom(
        name=visit.video_room_name,
        url=visit.video_room_url,
        not_before=room_opens_at(visit),
        expires_at=room_closes_at(visit),
    )


@transaction.atomic
def visit_join(*, appointment: Appointment, actor: User) -> VisitJoin:
    """`actor`'s join link for `appointment` (which the caller found among their visits)."""
    if actor.pk not in (appointment.patient.user_id, appointment.physician.user_id):
        raise NotFound()
    role = participant_role(appointment, actor)
    visit = appointment
    if not visit.video_room_name:
        visit = _locked(appointment)  # concurrent first joins queue here
    if visit.status not in ACTIVE_STATUSES:
        raise Conflict(f"This visit is {visit.status}.", code="visit_not_active")
    _refuse_outside_room_window(visit, timezone.now())
    backend = get_video_backend()
    with _video_call():
        if not visit.video_room_name:
            room = backend.create_room(
                visit_id=str(visit.public_id),
                not_before=room_opens_at(visit),
                expires_at=room_closes_at(visit),
            )
            visit.video_room_name, visit.video_room_url = room.name, room.url
            visit.save(update_fields=["video_room_name", "video_room_url"])
            audit_write(
                visit, actor=actor, action=AuditAction.UPDATE, detail={"event": "video_room"}
            )
        link = backend.join_link(room=_room_of(visit), role=role)
    audit_write(
        visit, actor=actor, action=AuditAction.READ, detail={"event": "video_join", "role": role}
    )
    return VisitJoin(
        link=link, role=role, opens_at=room_opens_at(visit), closes_at=room_closes_at(visit)
    )


@transaction.atomic
def visit_start(*, appointment: Appointment, actor: User, confirmed_state: str) -> Appointment:
    """The visit's physician starts it, with the state the patient confirms they are in."""
    _require_physician_of(appointment, actor)
    if confirmed_state not in US_STATE_CODES:
        raise ValidationFailed(fields={"confirmed_state": ["Not a US state or territory."]})
    visit = _locked(appointment)
    transition_refuse(visit, S.IN_PROGRESS)
    now = timezone.now()
    _refuse_outside_room_window(visit, now)
    visit.status = S.IN_PROGRESS
    visit.started_at = now
    visit.confirmed_state = confirmed_state
    visit.save(update_fields=["status", "started_at", "confirmed_state"])
    audit_write(
        visit,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"event": "visit_started", "confirmed_state": confirmed_state},
    )
    return visit


@transaction.atomic
def visit_complete(
    *, appointment: Appointment, actor: User, note: str, standard_of_care_attested: bool
) -> Appointment:
    """Only the visit's physician completes it; the attestation must be given."""
    _require_physician_of(appointment, actor)
    if standard_of_care_attested is not True:
        raise ValidationFailed(
            fields={"standard_of_care_attested": ["Attest the standard of care to complete."]}
        )
    visit = _locked(appointment)
    transition_refuse(visit, S.COMPLETED)
    visit.status = S.COMPLETED
    visit.completed_at = timezone.now()
    visit.video_visit = True
    visit.standard_of_care_attested = True
    visit.visit_note = note
    visit.save(
        update_fields=[
            "status",
            "completed_at",
            "video_visit",
            "standard_of_care_attested",
            "visit_note",
        ]
    )
    audit_write(visit, actor=actor, action=AuditAction.UPDATE, detail={"event": "visit_completed"})
    return visit


def appointments_mark_no_show(*, now: datetime | None = None) -> int:
    """Every visit still booked SCHEDULING_NO_SHOW_AFTER after its end becomes a no-show,
    audited per row; returns how many. Rows are claimed with SKIP LOCKED and moved by a
    conditional UPDATE (status still booked), one batch per transaction, so two runs at
    once, or a physician starting the visit at that moment, never both win."""
    now = now or timezone.now()
    cutoff = now - settings.SCHEDULING_NO_SHOW_AFTER
    marked = 0
    while True:
        batch = _mark_no_show_batch(now=now, cutoff=cutoff)
        marked += batch
        if batch < NO_SHOW_BATCH:
            return marked


@transaction.atomic
def _mark_no_show_batch(*, now: datetime, cutoff: datetime) -> int:
    due = list(
        Appointment.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("patient")
        .filter(status=S.BOOKED, ends_at__lte=cutoff)
        .order_by("ends_at")[:NO_SHOW_BATCH]
    )
    if not due:
        return 0
    moved = Appointment.objects.filter(pk__in=[v.pk for v in due], status=S.BOOKED).update(
        status=S.NO_SHOW, no_show_at=now
    )
    for visit in due:  # locked above: every one of them moved
        audit_write(visit, actor=None, action=AuditAction.UPDATE, detail={"event": "no_show"})
    return moved


# Past a visit's end, how long before its physician is asked to complete it, and how far
# back the reminder looks (one reminder per visit: older ones were asked already).
UNFINISHED_VISIT_REMINDER_AFTER = timedelta(hours=2)
UNFINISHED_VISIT_LOOKBACK = timedelta(days=14)


def unfinished_visits_remind(*, now: datetime | None = None) -> int:
    """One email to the physician of each visit still in progress
    UNFINISHED_VISIT_REMINDER_AFTER after its end; deduped per visit, so running twice
    reminds once. Returns how many visits were due a reminder."""
    now = now or timezone.now()
    due = Appointment.objects.filter(
        status=S.IN_PROGRESS,
        ends_at__lte=now - UNFINISHED_VISIT_REMINDER_AFTER,
        ends_at__gt=now - UNFINISHED_VISIT_LOOKBACK,
    ).select_related("physician__user")
    drafts = [
        MessageDraft(
            recipient=visit.physician.user,
            template_key="visit_unfinished",
            category="care",
            channel="email",
            dedupe_key=f"appointment:{visit.public_id}:unfinished",
            context={"path": visit.app_path},
        )
        for visit in due
    ]
    messages_schedule(drafts)
    return len(drafts)

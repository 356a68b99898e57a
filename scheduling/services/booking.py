"""Booking, rescheduling and canceling appointments, and the messages around them.

Who books: a patient for themself; a physician, with themself, a patient they may treat
(patients.selectors.record: their licensed states); an ops admin any patient with any
physician. Whatever the actor, the slot must be open (`slot_bookable`: the slot
search's definition for one start, scheduling.selectors.slot_check), and the patient must
pass the gates of the kind: the account's email confirmed (billing's rule,
`email_unverified`); a consultation needs a submitted assessment or intake; a check-in or
follow-up `patient_clearance` and the `membership_gate`. Every failing gate is listed in
one 409 `booking_refused`.

The database has the last word: the exclusion constraints (physician time plus buffer,
patient time) and the partial unique (one booked appointment per patient and kind). Two
requests that both saw the slot open race to the INSERT; the loser's constraint violation
becomes a 409 (`slot_taken`, `patient_busy`, `already_booked`).

Changes: only a booked appointment can be rescheduled or canceled (409
`invalid_transition`). Patients may do either until SCHEDULING_PATIENT_CHANGE_CUTOFF
before the start; later a patient may still cancel (recorded as a late cancellation) but
not reschedule (409 `too_late_to_reschedule`: moving a visit at the last minute is a late
cancellation plus a new booking, and should count as one). The visit's physician and ops
admins may change it any time, with a reason (400 on `reason`).

Messages (notifications outbox, generic wording, a link path as the only context): the
patient gets a confirmation by text and email and reminders 24 h and 1 h before (those
already past at booking are skipped; none is sent once the visit has started:
`expires_at`); the physician is told by email. Rescheduling cancels every message still
pending for the old appointment and schedules the new one's; canceling cancels them and
tells both sides. A canceled or moved visit's video room is deleted after the commit
(services.video_rooms: never inside this transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from psycopg import errors

from accounts.models import PhysicianProfile, Role, User
from audit.models import AuditAction
from audit.services import audit_write
from billing.selectors import membership_gate_of
from billing.services.checkout import EMAIL_UNVERIFIED, email_unverified
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notifications.models import Category, Channel
from notifications.services import MessageDraft, messages_cancel, messages_schedule
from patients.clearance import clearance_of
from patients.models import Patient
from patients.selectors.record import patients_visible_to
from patients.selectors.review import assessment_or_intake_submitted
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from scheduling.selectors.appointments import appointments_visible_to
from scheduling.selectors.booking_facts import FACTS_AT, booking_facts
from scheduling.selectors.slot_cache import slots_changed
from scheduling.selectors.slot_check import slot_bookable
from scheduling.selectors.slots import appointment_minutes, buffer_of
from scheduling.services.video_rooms import room_delete_after_commit
from scheduling.services.visits import transition_refuse

BOOKING_REFUSED: Final = "booking_refused"
NO_ASSESSMENT_OR_INTAKE: Final = "no_submitted_assessment_or_intake"
SLOT_UNAVAILABLE: Final = "slot_unavailable"
TOO_LATE_TO_RESCHEDULE: Final = "too_late_to_reschedule"

# Constraint violated by the INSERT -> (code, message) of the 409.
CONSTRAINT_CONFLICTS: Final = {
    "no_physician_double_booking": (
        "slot_taken",
        "This time was just booked by someone else. Please pick another time.",
    ),
    "no_patient_double_booking": (
        "patient_busy",
        "The patient already has an appointment at this time.",
    ),
    "one_upcoming_appointment_per_kind": (
        "already_booked",
        "The patient already has an upcoming appointment of this type.",
    ),
}

# Reminders before the visit, with the label their dedupe key carries.
REMINDERS: Final = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))
PATIENT_CHANNELS: Final = (Channel.SMS, Channel.EMAIL)


def booking_refusals(patient: Patient, kind: str) -> list[str]:
    """Every gate of `kind` the patient fails, as reason codes (empty: may be booked).
    A patient read through scheduling.selectors.booking_facts is decided on the facts it
    carries; any other is read through it here (one query for every gate)."""
    reasons: list[str] = []
    if email_unverified(patient.user):
        reasons.append(EMAIL_UNVERIFIED)
    if kind == AppointmentKind.CONSULTATION:
        if not assessment_or_intake_submitted(patient):
            reasons.append(NO_ASSESSMENT_OR_INTAKE)
        return reasons
    facts: Patient | None = patient
    if (now := getattr(patient, FACTS_AT, None)) is None:
        now = timezone.now()
        facts = booking_facts(patient.pk, now)
    if facts is None:
        raise NotFound("No such patient.")
    reasons += clearance_of(facts, now=now).reasons
    gate = membership_gate_of(facts, now)
    if not gate.allowed:
        reasons.append(gate.reason)
    return reasons


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    physician: PhysicianProfile,
    kind: str,
    starts_at: datetime,
    actor: User,
) -> Appointment:
    """Book `kind` at `starts_at` (UTC instant of an offered slot) for `patient` with
    `physician`; see the module docstring for who may and the 409s."""
    _may_book(actor, patient, physician)
    appointment = _insert(
        patient=patient, physician=physician, kind=kind, starts_at=starts_at, actor=actor
    )
    audit_write(appointment, actor=actor, action=AuditAction.CREATE, detail={"kind": kind})
    _announce(appointment, "appointment_confirmation", "confirmation")
    return appointment


@transaction.atomic
def appointment_reschedule(
    *, appointment: Appointment, starts_at: datetime, actor: User, reason: str = ""
) -> Appointment:
    """Move a booked appointment: a new one at `starts_at` (same patient, physician and
    kind, linked by `rescheduled_from`) and the old one canceled, in one transaction.

    The old row is canceled first, inside the transaction, so that neither the slot
    search nor the constraints count it against the new time; any refusal rolls the
    cancellation back with everything else."""
    old = _locked_for_change(appointment, actor, reason)
    now = timezone.now()
    if actor.role == Role.PATIENT and _within_cutoff(old, now):
        raise Conflict(
            "It is too late to move this appointment. You can still cancel it.",
            code=TOO_LATE_TO_RESCHEDULE,
        )
    _cancel_row(old, actor=actor, reason=reason, late=False, now=now)
    new = _insert(
        patient=old.patient,
        physician=old.physician,
        kind=old.kind,
        starts_at=starts_at,
        actor=actor,
        rescheduled_from=old,
    )
    audit_write(
        old,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"event": "rescheduled", "to": str(new.public_id)},
    )
    audit_write(
        new,
        actor=actor,
        action=AuditAction.CREATE,
        detail={"kind": new.kind, "rescheduled_from": str(old.public_id)},
    )
    messages_cancel(dedupe_prefix=_key(old, ""))
    _announce(new, "appointment_changed", "changed")
    return new


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, actor: User, reason: str = "") -> Appointment:
    """Cancel a booked appointment; a patient's cancellation inside the cutoff is recorded
    as a late cancellation. Pending reminders are canceled and both sides told."""
    appointment = _locked_for_change(appointment, actor, reason)
    now = timezone.now()
    late = actor.role == Role.PATIENT and _within_cutoff(appointment, now)
    _cancel_row(appointment, actor=actor, reason=reason, late=late, now=now)
    audit_write(
        appointment,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"event": "canceled", "late_cancellation": late},
    )
    messages_cancel(dedupe_prefix=_key(appointment, ""))
    _tell_both(appointment, "appointment_canceled", "canceled")
    return appointment


# --- rules ------------------------------------------------------------------------------


def _may_book(actor: User, patient: Patient, physician: PhysicianProfile) -> None:
    if actor.role == Role.PATIENT:
        if patient.user_id != actor.pk:
            raise NotFound("No such patient.")
    elif actor.role == Role.PHYSICIAN:
        if physician.user_id != actor.pk:
            raise PermissionDenied("Physicians book visits with themselves only.")
        if not patients_visible_to(actor).filter(pk=patient.pk).exists():
            raise NotFound("No such patient.")
    elif actor.role != Role.OPS_ADMIN:
        raise PermissionDenied("Only patients, physicians and operations admins book visits.")


def _insert(
    *,
    patient: Patient,
    physician: PhysicianProfile,
    kind: str,
    starts_at: datetime,
    actor: User,
    rescheduled_from: Appointment | None = None,
) -> Appointment:
    if kind not in AppointmentKind.values:
        raise ValidationFailed(fields={"kind": [f"Not one of {AppointmentKind.values}."]})
    if reasons := booking_refusals(patient, kind):
        raise Conflict(
            "This appointment cannot be booked yet.",
            code=BOOKING_REFUSED,
            fields={"patient": reasons},
        )
    if not slot_bookable(patient=patient, physician=physician, kind=kind, starts_at=starts_at):
        raise _slot_unavailable()
    ends_at = starts_at + appointment_minutes(kind)
    appointment = Appointment(
        patient=patient,
        physician=physician,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        blocked_until=ends_at + buffer_of(physician),
        booked_by=actor,
        rescheduled_from=rescheduled_from,
    )
    # No savepoint of its own: a violation raises out of the caller's atomic block, which
    # rolls everything back (its own savepoint when nested).
    try:
        with transaction.atomic(savepoint=False):
            appointment.save()
    except IntegrityError as exc:
        conflict = _constraint_conflict(exc)
        if conflict is None:
            raise
        raise conflict from None
    except OperationalError as exc:
        # Two bookings inserting clashing rows at once each wait, in the exclusion
        # constraints' check, for the other to end; PostgreSQL breaks the cycle by failing
        # one of them (deadlock_detected), which lost the time to the other.
        if not isinstance(exc.__cause__, errors.DeadlockDetected):
            raise
        raise _slot_unavailable() from None
    slots_changed()
    return appointment


def _slot_unavailable() -> Conflict:
    return Conflict(
        "This time is not open for booking. Please pick another time.", code=SLOT_UNAVAILABLE
    )


def _constraint_conflict(exc: IntegrityError) -> Conflict | None:
    """The 409 for a violated booking constraint, by the constraint's name."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    if name not in CONSTRAINT_CONFLICTS:
        return None
    code, message = CONSTRAINT_CONFLICTS[name]
    return Conflict(message, code=code)


def _locked_for_change(appointment: Appointment, actor: User, reason: str) -> Appointment:
    """The appointment, locked, when `actor` may change it (else 404, as if absent) and
    it is still booked (else 409); staff must give a reason (else 400)."""
    locked = (
        appointments_visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk=appointment.pk)
        .first()
    )
    if locked is None:
        raise NotFound("No such appointment.")
    if actor.role != Role.PATIENT and not reason.strip():
        raise ValidationFailed(
            "Say why the appointment changes.",
            fields={"reason": ["Required when a physician or an admin changes a visit."]},
        )
    # Rescheduling cancels the old row too: both are the booked -> canceled move.
    transition_refuse(locked, AppointmentStatus.CANCELED)
    return locked


def _within_cutoff(appointment: Appointment, now: datetime) -> bool:
    return appointment.starts_at - now < settings.SCHEDULING_PATIENT_CHANGE_CUTOFF


def _cancel_row(
    appointment: Appointment, *, actor: User, reason: str, late: bool, now: datetime
) -> None:
    appointment.status = AppointmentStatus.CANCELED
    appointment.canceled_at = now
    appointment.canceled_by = actor
    appointment.cancel_reason = reason.strip()
    appointment.late_cancellation = late
    appointment.save(
        update_fields=[
            "status",
            "canceled_at",
            "canceled_by",
            "cancel_reason",
            "late_cancellation",
        ]
    )
    slots_changed()
    room_delete_after_commit(appointment)


# --- messages ---------------------------------------------------------------------------


def _key(appointment: Appointment, *parts: str) -> str:
    """Dedupe keys: appointment:<public_id>:<event>[:<detail>]:<recipient or channel>.
    `_key(appointment, "")` is the prefix of every message about the appointment."""
    return ":".join(("appointment", str(appointment.public_id), *parts))


def _announce(appointment: Appointment, template_key: str, event: str) -> None:
    """A (re)booking: both sides told, and the patient's reminders scheduled, in one
    call. Nothing about the visit goes out once it has started."""
    drafts = _both_told(appointment, template_key, event, expires_at=appointment.starts_at)
    now = timezone.now()
    for label, before in REMINDERS:
        send_at = appointment.starts_at - before
        if send_at <= now:
            continue
        drafts += [
            MessageDraft(
                recipient=appointment.patient.user,
                template_key="appointment_reminder",
                category=Category.CARE,
                channel=channel,
                dedupe_key=_key(appointment, "reminder", label, channel),
                context={"path": appointment.app_path},
                send_at=send_at,
                expires_at=appointment.starts_at,
            )
            for channel in PATIENT_CHANNELS
        ]
    messages_schedule(drafts)


def _tell_both(appointment: Appointment, template_key: str, event: str) -> None:
    messages_schedule(_both_told(appointment, template_key, event))


def _both_told(
    appointment: Appointment,
    template_key: str,
    event: str,
    *,
    expires_at: datetime | None = None,
) -> list[MessageDraft]:
    """The patient by text and email, the physician by email (staff contacts are their
    account email: notifications.directory)."""
    context = {"path": appointment.app_path}
    told = [
        (appointment.patient.user, channel, _key(appointment, event, channel))
        for channel in PATIENT_CHANNELS
    ]
    told.append((appointment.physician.user, Channel.EMAIL, _key(appointment, event, "physician")))
    return [
        MessageDraft(
            recipient=recipient,
            template_key=template_key,
            category=Category.CARE,
            channel=channel,
            dedupe_key=dedupe_key,
            context=context,
            expires_at=expires_at,
        )
        for recipient, channel, dedupe_key in told
    ]

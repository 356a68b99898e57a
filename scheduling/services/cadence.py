"""The check-in cadence: a physician (or ops admin) sets how often a patient checks in,
and the hourly nudge to book when a check-in comes due (scheduling.selectors.cadence
defines "due")."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from accounts.models import Role, User
from audit.models import AuditAction
from audit.services import audit_record
from core.errors import NotFound, PermissionDenied, ValidationFailed
from notifications.services import message_schedule
from patients.models import Patient
from patients.selectors.record import patients_visible_to
from scheduling.models import CheckInCadence
from scheduling.selectors.cadence import check_in_statuses, patients_in_care

INTERVAL_MIN, INTERVAL_MAX = 1, 365
CHECK_IN_BOOKING_PATH = "/appointments/new?kind=check_in"
CADENCE_OBJECT_TYPE = CheckInCadence._meta.label_lower


@transaction.atomic
def check_in_cadence_set(*, patient: Patient, interval_days: int, actor: User) -> CheckInCadence:
    """Set the patient's check-in interval (1-365 days). A physician may set it for a
    patient in a state where they may treat (patients_visible_to; anyone else's patient
    is NotFound), an ops admin for anyone; other roles are refused. Audited."""
    if actor.role == Role.PHYSICIAN:
        if not patients_visible_to(actor).filter(pk=patient.pk).exists():
            raise NotFound("No such patient.")
    elif actor.role != Role.OPS_ADMIN:
        raise PermissionDenied("Only a physician or an ops admin sets the check-in cadence.")
    if isinstance(interval_days, bool) or not INTERVAL_MIN <= interval_days <= INTERVAL_MAX:
        raise ValidationFailed(
            fields={"interval_days": [f"Enter a number of days from {INTERVAL_MIN} to 365."]}
        )
    cadence, created = CheckInCadence.objects.update_or_create(
        patient=patient, defaults={"interval_days": interval_days, "set_by": actor}
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        object_type=CADENCE_OBJECT_TYPE,
        object_id=str(patient.public_id),
        patient_id=patient.public_id,
        detail={"interval_days": interval_days},
    )
    return cadence


def check_in_nudge_dedupe_key(patient: Patient, due_on: date) -> str:
    """`checkin-due:<patient>:<due date>`: one nudge per patient and due date."""
    return f"checkin-due:{patient.public_id}:{due_on.isoformat()}"


def check_in_nudges_schedule(*, now: datetime | None = None) -> int:
    """One "checkin_due" text per patient in care whose check-in is due and who has none
    booked, per due date: the dedupe key carries the due date, so running this again (or
    twice at once) schedules nothing new, and a new due date (after the next check-in, or
    a changed interval) earns a new nudge. Returns how many nudges were scheduled or
    found already scheduled. One query for the statuses, whatever the number of patients."""
    count = 0
    for patient, status in check_in_statuses(patients_in_care(), now=now):
        if not status.due or status.booked_for is not None or status.due_on is None:
            continue
        message_schedule(
            recipient=patient.user,
            template_key="checkin_due",
            category="care",
            channel="sms",
            dedupe_key=check_in_nudge_dedupe_key(patient, status.due_on),
            context={"path": CHECK_IN_BOOKING_PATH},
        )
        count += 1
    return count

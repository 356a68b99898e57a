"""The prescribing record around a prescription: PDMP checks and in-person evaluations as
the physician records them, and canceling a signed prescription.

Canceling is the one change a signed prescription allows (migration 0002's trigger holds
every other column): who, when and why (encrypted). Its orders still `created` (not yet
handed to the pharmacy) are canceled through order_transition; later ones are the
pharmacy's and ops admins' to stop. Refills check the status and stop. Canceling twice is
a 409 `prescription_canceled` (the first cancellation's who and why stay as they are).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.clock import practice_date, practice_today
from core.errors import Conflict, ValidationFailed
from patients.models import Patient
from prescriptions.models import (
    DeliveryOrder,
    EventSource,
    InPersonEvaluation,
    OrderStatus,
    PdmpCheck,
    Prescription,
    PrescriptionStatus,
)
from prescriptions.services.orders import order_transition


@transaction.atomic
def pdmp_check_record(
    *, actor: User, patient: Patient, reference: str, notes: str = ""
) -> PdmpCheck:
    """The physician looked the patient up in their state's program (FL E-FORCSE, NJ
    NJPMP) just now: who and when are ours, the reference is theirs."""
    if not reference.strip():
        raise ValidationFailed(fields={"reference": ["The program's reference is required."]})
    now = timezone.now()
    check = PdmpCheck.objects.create(
        patient=patient,
        program=patient.state,
        checked_by=actor,
        checked_at=now,
        checked_on=practice_date(now),
        reference=reference.strip(),
        notes=notes.strip(),
    )
    audit_write(check, actor=actor, action=AuditAction.CREATE, detail={"event": "pdmp_check"})
    return check


@transaction.atomic
def in_person_evaluation_record(
    *, actor: User, patient: Patient, evaluated_on: date, notes: str = ""
) -> InPersonEvaluation:
    """An in-person medical evaluation the physician documents (not in the future)."""
    if evaluated_on > practice_today():
        raise ValidationFailed(fields={"evaluated_on": ["Must not be in the future."]})
    evaluation = InPersonEvaluation.objects.create(
        patient=patient,
        physician=actor.physician,
        evaluated_on=evaluated_on,
        recorded_by=actor,
        notes=notes.strip(),
    )
    audit_write(
        evaluation,
        actor=actor,
        action=AuditAction.CREATE,
        detail={"event": "in_person_evaluation"},
    )
    return evaluation


@transaction.atomic
def prescription_cancel(*, actor: User, prescription: Prescription, reason: str) -> Prescription:
    """Cancel a signed prescription (see the module docstring)."""
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["Say why the prescription is canceled."]})
    locked = Prescription.objects.select_for_update().get(pk=prescription.pk)
    if locked.status == PrescriptionStatus.CANCELED:
        raise Conflict("This prescription is canceled already.", code="prescription_canceled")
    prescription.status = PrescriptionStatus.CANCELED
    prescription.canceled_at = timezone.now()
    prescription.canceled_by = actor
    prescription.cancel_reason = reason.strip()
    prescription.save(update_fields=["status", "canceled_at", "canceled_by", "cancel_reason"])
    pending = DeliveryOrder.objects.filter(prescription=prescription, status=OrderStatus.CREATED)
    for order in pending.order_by("pk"):
        order_transition(
            order=order,
            to=OrderStatus.CANCELED,
            source=EventSource.PHYSICIAN,
            actor=actor,
            note="The prescription was canceled.",
        )
    audit_write(
        prescription,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"event": "prescription_canceled"},
    )
    return prescription

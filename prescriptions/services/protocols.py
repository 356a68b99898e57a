"""Setting a patient's dosing protocol and changing its dose at a check-in.

- `protocol_set`: a physician who may see the patient sets a new protocol; the current one
  ends (`ended_at`) in the same transaction. The partial unique constraint
  (one_current_protocol_per_patient) is the backstop for two physicians setting one at
  the same moment: the loser gets 409 `protocol_changed`, and may retry.
- `protocol_dose_change`: at a check-in visit of this physician with this patient (in
  progress or completed), with a reason (encrypted). Up: one titration step at most, not
  sooner than `min_days_between_steps` practice days after the last change (or the
  protocol's start), never above the ceiling nor the protocol's maximum per session. Down:
  always (above zero).
Invalid numbers are 400 with the field; no current protocol is 409 `no_current_protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.clock import practice_date
from core.errors import Conflict, NotFound, ValidationFailed
from patients.models import Patient
from prescriptions.models import DoseChange, DosingProtocol, Medication
from scheduling.models import AppointmentStatus
from scheduling.selectors.appointments import appointment_visible_to

# The visits at which a dose may change: the check-in under way, or just held.
DOSE_CHANGE_VISIT_STATUSES = (AppointmentStatus.IN_PROGRESS, AppointmentStatus.COMPLETED)


@dataclass(frozen=True)
class ProtocolPlan:
    kind: str
    medication: Medication
    starting_dose_mg: Decimal
    titration_step_mg: Decimal
    min_days_between_steps: int
    ceiling_dose_mg: Decimal
    max_per_session_mg: Decimal
    min_hours_between_sessions: int


def protocol_plan_problems(plan: ProtocolPlan) -> dict[str, list[str]]:
    """Every field of `plan` that is inconsistent with the others (empty when valid)."""
    problems: dict[str, list[str]] = {}
    if not plan.medication.active:
        problems["medication"] = ["This formulation is no longer offered."]
    if plan.starting_dose_mg > plan.ceiling_dose_mg:
        problems["starting_dose_mg"] = ["Must not be above the ceiling dose."]
    if plan.max_per_session_mg > plan.ceiling_dose_mg:
        problems["max_per_session_mg"] = ["Must not be above the ceiling dose."]
    elif plan.max_per_session_mg < plan.starting_dose_mg:
        problems["max_per_session_mg"] = ["Must be at least the starting dose."]
    return problems


@transaction.atomic
def protocol_set(*, actor: User, patient: Patient, plan: ProtocolPlan) -> DosingProtocol:
    """The patient's new current protocol (see the module docstring)."""
    if problems := protocol_plan_problems(plan):
        raise ValidationFailed(fields=problems)
    now = timezone.now()
    current = (
        DosingProtocol.objects.select_for_update()
        .filter(patient=patient, ended_at__isnull=True)
        .first()
    )
    if current is not None:
        current.ended_at = now
        current.save(update_fields=["ended_at"])
    try:
        with transaction.atomic():
            protocol = DosingProtocol.objects.create(
                patient=patient,
                physician=actor.physician,
                kind=plan.kind,
                medication=plan.medication,
                starting_dose_mg=plan.starting_dose_mg,
                current_dose_mg=plan.starting_dose_mg,
                titration_step_mg=plan.titration_step_mg,
                min_days_between_steps=plan.min_days_between_steps,
                ceiling_dose_mg=plan.ceiling_dose_mg,
                max_per_session_mg=plan.max_per_session_mg,
                min_hours_between_sessions=plan.min_hours_between_sessions,
                created_at=now,
            )
    except IntegrityError as exc:
        if "one_current_protocol_per_patient" not in str(exc):
            raise
        raise Conflict(
            "Another protocol was set for this patient at the same moment; reload and retry.",
            code="protocol_changed",
        ) from exc
    audit_write(
        protocol,
        actor=actor,
        action=AuditAction.CREATE,
        detail={"event": "protocol_set", "replaces": str(current.public_id) if current else None},
    )
    return protocol


def _dose_change_problems(
    protocol: DosingProtocol, to_dose_mg: Decimal, last_change_on: date
) -> list[str]:
    current = protocol.current_dose_mg
    if to_dose_mg == current:
        return ["That is the current dose."]
    if to_dose_mg < current:
        return []
    problems = []
    if to_dose_mg - current > protocol.titration_step_mg:
        problems.append(
            f"Going up is one titration step at most ({protocol.titration_step_mg} mg)."
        )
    if to_dose_mg > protocol.ceiling_dose_mg:
        problems.append(f"Must not be above the ceiling dose ({protocol.ceiling_dose_mg} mg).")
    if to_dose_mg > protocol.max_per_session_mg:
        problems.append(
            f"Must not be above the maximum per session ({protocol.max_per_session_mg} mg)."
        )
    today = practice_date(timezone.now())
    days = (today - last_change_on).days
    if days < protocol.min_days_between_steps:
        problems.append(
            f"The last change was {days} days ago; going up needs "
            f"{protocol.min_days_between_steps} days between steps."
        )
    return problems


@transaction.atomic
def protocol_dose_change(
    *, actor: User, patient: Patient, visit_id: str, to_dose_mg: Decimal, reason: str
) -> DoseChange:
    """A titration step (or a step down) of the patient's current protocol."""
    protocol = (
        DosingProtocol.objects.select_for_update()
        .filter(patient=patient, ended_at__isnull=True)
        .first()
    )
    if protocol is None:
        raise Conflict("The patient has no current protocol.", code="no_current_protocol")
    try:
        visit = appointment_visible_to(actor, visit_id)
    except NotFound:
        visit = None
    if (
        visit is None
        or visit.patient_id != patient.pk
        or visit.status not in DOSE_CHANGE_VISIT_STATUSES
    ):
        raise ValidationFailed(
            fields={"visit": ["Not a visit of yours with this patient, in progress or held."]}
        )
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["Say why the dose changes."]})
    last = protocol.changes.order_by("-changed_at").values_list("changed_at", flat=True).first()
    last_change_on = practice_date(last or protocol.created_at)
    if problems := _dose_change_problems(protocol, to_dose_mg, last_change_on):
        raise ValidationFailed(fields={"to_dose_mg": problems})
    change = DoseChange.objects.create(
        protocol=protocol,
        from_dose_mg=protocol.current_dose_mg,
        to_dose_mg=to_dose_mg,
        reason=reason.strip(),
        visit=visit,
        changed_by=actor,
    )
    protocol.current_dose_mg = to_dose_mg
    protocol.save(update_fields=["current_dose_mg"])
    direction = "up" if to_dose_mg > change.from_dose_mg else "down"
    audit_write(
        protocol,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"event": "dose_change", "direction": direction, "visit": str(visit.public_id)},
    )
    return change

"""Safety flags: the one way to raise one (from a claimed assessment, a submitted intake,
PHQ-9 item 9 on a questionnaire; prescriptions next) and to resolve one.

A flag suspends dosing and refills until a physician licensed in the patient's state
resolves it (patients.clearance). Raising one alerts each of those physicians by urgent
email with a link to the flag itself. The audit detail names the source only, never the
kind: the kind is clinical.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import physicians_licensed_in
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import Conflict, NotFound
from notifications.models import Category, Channel
from notifications.services import message_schedule
from patients.models import Patient, SafetyFlag
from patients.selectors.review import safety_flags_resolvable_by


def safety_flag_path(flag: SafetyFlag) -> str:
    """Where a physician opens the flag (the link in every safety alert)."""
    return f"/review/safety-flags/{flag.public_id}"


@transaction.atomic
def safety_flag_raise(
    *,
    patient: Patient,
    kind: str,
    source: str,
    source_id: uuid.UUID | None,
    actor: User | None,
) -> SafetyFlag:
    """Open a flag of `kind` for `patient`, audit it and alert every physician licensed in
    the patient's state (one email each; the dedupe key makes a retry send nothing new)."""
    flag = SafetyFlag.objects.create(patient=patient, kind=kind, source=source, source_id=source_id)
    audit_write(flag, actor=actor, action=AuditAction.CREATE, detail={"source": source})
    for physician in physicians_licensed_in(patient.state):
        message_schedule(
            recipient=physician.user,
            template_key="review_alert",
            category=Category.CARE,
            channel=Channel.EMAIL,
            dedupe_key=f"safety:{flag.public_id}:{physician.user_id}",
            context={"path": safety_flag_path(flag)},
            urgent=True,
        )
    return flag


@transaction.atomic
def safety_flag_resolve(*, physician_user: User, flag_id: uuid.UUID | str, note: str) -> SafetyFlag:
    """A physician licensed in the patient's state resolves an open safety flag."""
    flag = (
        safety_flags_resolvable_by(physician_user)
        .select_for_update(of=("self",))
        .select_related("patient")
        .filter(public_id=flag_id)
        .first()
    )
    if flag is None:
        raise NotFound("No such safety flag.")
    if flag.resolved_at is not None:
        raise Conflict("This safety flag is already resolved.", code="safety_flag_resolved")
    flag.resolved_at = timezone.now()
    flag.resolved_by = physician_user
    flag.resolution_note = note
    flag.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
    audit_write(flag, actor=physician_user, action=AuditAction.UPDATE, detail={"event": "resolved"})
    return flag

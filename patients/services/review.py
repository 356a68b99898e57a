"""Physician review, write side: approve, decline or ask the patient for more information
(safety flags are resolved in patients.services.safety).

Every decision locks the intake row (SELECT ... FOR UPDATE) and then checks that the
intake is still awaiting review, so of two physicians acting at once exactly one succeeds
and the other gets 409. A physician reaches only intakes and flags of patients in the
states where they hold an active license; anything else is 404.
"""

from __future__ import annotations

import uuid
from typing import Final

from django.db import transaction
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import Conflict, NotFound
from notifications.models import Category, Channel
from notifications.services import message_schedule
from patients import screening
from patients.models import IntakeReview, IntakeStatus, ReviewAction
from patients.selectors.intake import intake_screening
from patients.selectors.review import (
    intake_awaiting_review,
    intakes_reviewable_by,
    open_safety_flags,
)

STATUS_AFTER: Final = {
    ReviewAction.APPROVE: IntakeStatus.APPROVED,
    ReviewAction.DECLINE: IntakeStatus.DECLINED,
    ReviewAction.REQUEST_INFO: IntakeStatus.INFO_REQUESTED,
}
PATIENT_LINK: Final = "/intake"


def _physician_of(user: User) -> PhysicianProfile:
    physician = PhysicianProfile.objects.filter(user=user).first()
    if physician is None:  # a physician account without a profile reaches nothing
        raise NotFound("No such intake.")
    return physician


@transaction.atomic
def intake_review_decide(
    *, physician_user: User, intake_id: uuid.UUID | str, action: str, note: str = ""
) -> IntakeReview:
    """Record a physician's decision on an intake awaiting review and tell the patient
    (a generic SMS and email: the details are in the app).

    An approval is refused while the patient has an open safety flag (resolve it first) or
    when the screening found a hard stop. Submitted answers are frozen: a question asked
    is answered in text and changes neither the answers nor the screening; answers that
    need correcting mean a decline (with the reason) and a new intake from the patient.

    Audit events name the objects and the patient only, never the decision or clinical
    detail (the review row holds those)."""
    action = ReviewAction(action)
    physician = _physician_of(physician_user)
    intake = (
        intakes_reviewable_by(physician_user)
        .select_for_update(of=("self",))
        .select_related("patient", "patient__user")
        .filter(public_id=intake_id)
        .first()
    )
    if intake is None:
        raise NotFound("No such intake.")
    if not intake_awaiting_review(intake):
        raise Conflict(
            f"This intake is {intake.status.replace('_', ' ')}, not awaiting review.",
            code="intake_not_awaiting_review",
        )
    if action == ReviewAction.APPROVE:
        if open_safety_flags(intake.patient).exists():
            raise Conflict(
                "The patient has an open safety flag: resolve it before approving.",
                code="safety_flag_open",
            )
        outcome = (intake_screening(intake) or {}).get("outcome")
        if outcome == screening.NOT_ELIGIBLE:
            raise Conflict(
                "The screening found a hard stop: decline with a reason (the patient can "
                "start a new intake if answers need correcting).",
                code="screening_not_eligible",
            )

    now = timezone.now()
    review = IntakeReview.objects.create(
        intake=intake, physician=physician, action=action, note=note, created_at=now
    )
    intake.status = STATUS_AFTER[action]
    intake.decided_at = now
    intake.save(update_fields=["status", "decided_at", "updated_at"])

    patient = intake.patient
    audit_write(
        review,
        actor=physician_user,
        action=AuditAction.CREATE,
        detail={"intake": str(intake.public_id)},
    )
    audit_write(
        intake, actor=physician_user, action=AuditAction.UPDATE, detail={"event": "reviewed"}
    )
    for channel in (Channel.SMS, Channel.EMAIL):
        message_schedule(
            recipient=patient.user,
            template_key="account_update",
            category=Category.CARE,
            channel=channel,
            dedupe_key=f"intake:{intake.public_id}:{review.public_id}:{channel}",
            context={"path": PATIENT_LINK},
        )
    return review

"""Intake, patient side: saving a draft of the answers (patients.questionnaire), submitting
it (scored and screened by patients.intake_screening, urgent answers raising safety flags)
and answering a physician's question."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import Conflict, NotFound, ValidationFailed
from patients import screening
from patients.intake_screening import (
    SAFETY_FLAG_REASONS,
    answers_digest,
    decision_as_dict,
    run_screening,
    screening_context_of,
)
from patients.models import (
    OPEN_INTAKE_STATUSES,
    Intake,
    IntakeReview,
    IntakeStatus,
    Patient,
    ReviewAction,
    SafetyFlag,
)
from patients.questionnaire import QUESTIONNAIRE_VERSION, answers_current_keys, answers_errors
from patients.selectors.intake import intake_answers
from patients.services.safety import safety_flag_raise


def _set_screening(intake: Intake, document: dict[str, Any]) -> None:
    """Store a screening document on the intake (not saved here), with its outcome in its
    own column (`screening_outcome`, what the review queue reads): every write of the
    screening goes through here so that the two never disagree."""
    intake.screening = document
    intake.screening_outcome = document["outcome"]


def _evaluate(intake: Intake, patient: Patient, *, actor: User) -> list[SafetyFlag]:
    """Score and screen the intake's (complete) answers with the current rule set, store the
    result on the intake (not saved here) and raise safety flags when urgent."""
    answers = intake_answers(intake)
    if errors := answers_errors(answers, complete=True):
        raise ValidationFailed("Some answers are missing or invalid.", fields=errors)
    intake.answers = answers  # frozen in the current spelling of its keys
    ctx = screening_context_of(patient)
    scores, decision = run_screening(answers, ctx, screening.CURRENT_RULESET)
    urgent = screening.urgent_safety(decision)
    intake.ruleset_version = decision.ruleset_version
    result: Any = decision_as_dict(decision) | {
        "urgent_safety": urgent,
        "scores": scores.as_dict(),
        "input": ctx.as_dict(),
        "questionnaire_version": intake.questionnaire_version,
        "answers_sha256": answers_digest(answers),
    }
    _set_screening(intake, result)
    return _raise_safety_flags(intake, patient, decision, actor=actor) if urgent else []


def _raise_safety_flags(
    intake: Intake, patient: Patient, decision: screening.ScreeningDecision, *, actor: User
) -> list[SafetyFlag]:
    """One flag per urgent reason (none twice while one of that kind is open for this
    intake), each alerting the physicians licensed in the patient's state."""
    kinds = [c for c in decision.codes() if c in SAFETY_FLAG_REASONS] or [screening.URGENT_SAFETY]
    already_open = set(
        SafetyFlag.objects.filter(
            patient=patient, source="intake", source_id=intake.public_id, resolved_at__isnull=True
        ).values_list("kind", flat=True)
    )
    return [
        safety_flag_raise(
            patient=patient, kind=kind, source="intake", source_id=intake.public_id, actor=actor
        )
        for kind in kinds
        if kind not in already_open
    ]


# --- patient-side services ---------------------------------------------------------------


def _lock_patient(patient: Patient) -> Patient:
    """Every patient-side intake write holds the patient row: one at a time per patient
    (so a double click creates one draft and submits once)."""
    return Patient.objects.select_for_update().select_related("user").get(pk=patient.pk)


def _current_for_update(patient: Patient) -> Intake | None:
    # At most one intake is open and a new one starts only when none is: the newest is the
    # open one if there is one.
    intake = (
        Intake.objects.select_for_update()
        .filter(patient=patient)
        .order_by("-created_at", "-id")
        .first()
    )
    if intake is not None:
        intake.patient = patient  # the locked row: no query for it later (the audit names it)
    return intake


def _not_editable(intake: Intake) -> Conflict:
    return Conflict(
        f"This intake is {intake.status.replace('_', ' ')} and can no longer be changed.",
        code="intake_not_editable",
    )


@transaction.atomic
def intake_save_draft(*, patient: Patient, answers: Any) -> Intake:
    """Save answers to the open intake, creating a draft when none is open.

    Sections given replace the stored ones, a section given as null is cleared, sections
    left out are kept. Only a draft changes: once submitted the answers (and the screening
    made of them) are frozen, also while a physician has asked for more information (the
    patient answers the question in text). Answers to correct mean a decline and a new
    intake; after an approval no new intake starts."""
    answers = answers_current_keys(answers)
    if errors := answers_errors(answers, complete=False):
        raise ValidationFailed(fields=errors)
    patient = _lock_patient(patient)
    intake = _current_for_update(patient)
    created = False
    if intake is None or intake.status not in OPEN_INTAKE_STATUSES:
        if intake is not None and intake.status == IntakeStatus.APPROVED:
            raise _not_editable(intake)
        intake = Intake(patient=patient, questionnaire_version=QUESTIONNAIRE_VERSION)
        created = True
    elif intake.status != IntakeStatus.DRAFT:
        raise _not_editable(intake)
    merged: Any = intake_answers(intake)
    for code, value in answers.items():
        if value is None:
            merged.pop(code, None)
        else:
            merged[code] = value
    intake.answers = merged
    intake.save()
    audit_write(
        intake, actor=patient.user, action=AuditAction.CREATE if created else AuditAction.UPDATE
    )
    return intake


@transaction.atomic
def intake_submit(*, patient: Patient) -> Intake:
    """Submit the draft: every section checked (each missing or invalid field named),
    every instrument scored, the screening rule set run and its decision stored with every
    reason. Urgent safety answers raise flags and alert the state's physicians. Whatever
    the outcome, the intake goes to the physicians' queue: a physician decides."""
    patient = _lock_patient(patient)
    intake = _current_for_update(patient)
    if intake is None:
        raise NotFound("No intake yet: save your answers first.", code="no_intake")
    if intake.status != IntakeStatus.DRAFT:
        raise _not_editable(intake)
    _evaluate(intake, patient, actor=patient.user)
    intake.status = IntakeStatus.SUBMITTED
    intake.submitted_at = timezone.now()
    intake.save()
    audit_write(
        intake,
        actor=patient.user,
        action=AuditAction.UPDATE,
        detail={"event": "submitted"},  # no outcome or flags: no clinical data in the audit
    )
    return intake


@transaction.atomic
def intake_answer_question(*, patient: Patient, review_id: Any, answer: str) -> Intake:
    """Record the patient's answer (text) to a physician's question. Once no question is
    left open the intake goes back to the queue (status submitted). The answers and their
    screening stay exactly as submitted: nothing is edited or screened again here."""
    patient = _lock_patient(patient)
    review = (
        IntakeReview.objects.select_for_update(of=("self",))
        .select_related("intake__patient")
        .filter(public_id=review_id, intake__patient=patient, action=ReviewAction.REQUEST_INFO)
        .first()
    )
    if review is None:
        raise NotFound("No such question.", code="no_question")
    if review.answered_at is not None:
        raise Conflict("This question has already been answered.", code="question_answered")
    intake = Intake.objects.select_for_update().get(pk=review.intake_id)
    if intake.status != IntakeStatus.INFO_REQUESTED:
        raise Conflict("This intake is not waiting for an answer.", code="intake_not_editable")
    review.patient_answer = answer
    review.answered_at = timezone.now()
    review.save(update_fields=["patient_answer", "answered_at"])
    still_open = intake.reviews.filter(
        action=ReviewAction.REQUEST_INFO, answered_at__isnull=True
    ).exists()
    if not still_open:
        intake.status = IntakeStatus.SUBMITTED
        intake.save(update_fields=["status", "updated_at"])
    audit_write(review, actor=patient.user, action=AuditAction.UPDATE, detail={"event": "answered"})
    return intake

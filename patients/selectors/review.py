"""Intake and physician review, read side: a patient's current intake, the review queue,
what a physician may open, and the answers other apps ask ("is the intake approved?",
"is a safety flag open?").

Authorization is a queryset question: a physician reaches intakes and safety flags only
of patients in the states where they hold an active, unexpired license
(`licensed_states`), and never a draft; anything else answers 404.
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from accounts.models import Role, User
from accounts.selectors import licensed_states
from core.errors import NotFound
from patients.models import (
    Assessment,
    Intake,
    IntakeReview,
    IntakeStatus,
    Patient,
    ReviewAction,
    SafetyFlag,
)
from patients.selectors.record import patients_visible_to

# --- patient side ----------------------------------------------------------------------


def intake_current(patient: Patient) -> Intake | None:
    """The patient's open intake, or else their latest one (None: never started).

    At most one intake is open and a new one starts only when none is, so the newest is
    the open one whenever one is open."""
    return (
        Intake.objects.filter(patient=patient)
        .select_related("patient")
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=IntakeReview.objects.order_by("created_at", "id"),
                to_attr="review_list",
            )
        )
        .order_by("-created_at", "-id")
        .first()
    )


def _intakes_latest_first(patient: Patient | OuterRef) -> QuerySet[Intake]:
    return Intake.objects.filter(patient=patient).order_by("-created_at", "-id")


def intake_approved(patient: Patient) -> bool:
    """Whether the patient's latest intake is approved (for clinical clearance): a newer
    intake, once one exists, withdraws the approval until it is approved itself."""
    latest = _intakes_latest_first(patient).values_list("status", flat=True).first()
    return latest == IntakeStatus.APPROVED


def latest_intake_status() -> Subquery:
    """The status of the annotated patient's latest intake: intake_approved is it equal to
    IntakeStatus.APPROVED (for a query that reads several answers at once)."""
    return Subquery(_intakes_latest_first(OuterRef("pk")).values("status")[:1])


def assessment_or_intake_submitted(patient: Patient) -> bool:
    """Whether the patient has submitted an intake (whatever became of it) or claimed a
    free assessment they took: what the free first consultation asks (scheduling)."""
    return (
        Intake.objects.filter(patient=patient, submitted_at__isnull=False)
        .exclude(status=IntakeStatus.DRAFT)
        .exists()
        or Assessment.objects.filter(claimed_by=patient).exists()
    )


def open_safety_flags(patient: Patient | OuterRef) -> QuerySet[SafetyFlag]:
    """Unresolved safety flags of the patient (any source), oldest first."""
    return SafetyFlag.objects.filter(patient=patient, resolved_at__isnull=True).order_by(
        "raised_at", "id"
    )


def unanswered_questions(intake: OuterRef | Intake) -> QuerySet[IntakeReview]:
    return IntakeReview.objects.filter(
        intake=intake, action=ReviewAction.REQUEST_INFO, answered_at__isnull=True
    )


# --- physician side --------------------------------------------------------------------


def awaiting_review() -> Q:
    """Submitted intakes, and intakes whose requested information has all been given.

    The one definition: intake_awaiting_review() asks it of one intake, and the queue's
    hand-written SQL (review_queue.py) restates it, held to it by
    tests/patients/test_review_rules.py."""
    return Q(status=IntakeStatus.SUBMITTED) | (
        Q(status=IntakeStatus.INFO_REQUESTED) & ~Q(Exists(unanswered_questions(OuterRef("pk"))))
    )


def intake_awaiting_review(intake: Intake) -> bool:
    """Whether `intake` (as stored) is awaiting review (awaiting_review())."""
    return Intake.objects.filter(pk=intake.pk).filter(awaiting_review()).exists()


def intakes_reviewable_by(viewer: User) -> QuerySet[Intake]:
    """Every non-draft intake of the patients in the physician's licensed states."""
    if viewer.role != Role.PHYSICIAN:
        return Intake.objects.none()
    return Intake.objects.filter(patient__state__in=licensed_states(viewer)).exclude(
        status=IntakeStatus.DRAFT
    )


def review_queue(viewer: User) -> QuerySet[Intake]:
    """Intakes awaiting the physician: patients with an open safety flag first, then oldest
    submission first. Each row carries its patient (name and state only) and, in
    `open_flags`, that patient's open safety flags: three queries whatever the page size
    (count, page, flags). The answers are not loaded, nor the screening document: the
    queue shows its outcome, kept in its own column (`screening_outcome`).

    The readable definition of the queue: the API reads its pages with
    review_queue.review_queue_page_audited() (one hand-written statement), and tests hold
    the two to the same rows in the same order."""
    open_flags = SafetyFlag.objects.filter(patient=OuterRef("patient_id"), resolved_at__isnull=True)
    return (
        intakes_reviewable_by(viewer)
        .filter(awaiting_review())
        .annotate(has_open_flag=Exists(open_flags))
        .select_related("patient")
        .only(
            "public_id",
            "status",
            "screening_outcome",
            "ruleset_version",
            "submitted_at",
            "patient",
            "patient__public_id",
            "patient__legal_first_name",
            "patient__legal_last_name",
            "patient__state",
        )
        .prefetch_related(
            Prefetch(
                "patient__safety_flags",
                queryset=SafetyFlag.objects.filter(resolved_at__isnull=True).order_by(
                    "raised_at", "id"
                ),
                to_attr="open_flags",
            )
        )
        .order_by("-has_open_flag", "submitted_at", "id")
    )


def review_queue_count(
    viewer: User, *, state: str | None = None, flagged: bool | None = None
) -> int:
    """How many intakes review_queue.review_queue_page_audited() pages through (reads and
    audits nothing)."""
    queue = review_queue(viewer)
    if state is not None:
        queue = queue.filter(patient__state=state)
    if flagged is not None:
        queue = queue.filter(Q(has_open_flag=flagged))  # annotated by review_queue()
    return queue.count()


def reviewable_intake(viewer: User, public_id: uuid.UUID | str) -> Intake:
    """One intake with its patient, reviews (and their physicians) and the patient's
    safety flags (`review_list`, `patient.flag_list`), or NotFound."""
    intake = (
        intakes_reviewable_by(viewer)
        .filter(public_id=public_id)
        .select_related("patient", "patient__user")
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=IntakeReview.objects.select_related("physician__user").order_by(
                    "created_at", "id"
                ),
                to_attr="review_list",
            ),
            Prefetch(
                "patient__safety_flags",
                queryset=SafetyFlag.objects.select_related("resolved_by").order_by(
                    "raised_at", "id"
                ),
                to_attr="flag_list",
            ),
        )
        .first()
    )
    if intake is None:
        raise NotFound("No such intake.")
    return intake


def other_intakes(intake: Intake) -> QuerySet[Intake]:
    """The patient's earlier (non-draft) intakes, newest first, without their answers."""
    return (
        Intake.objects.filter(patient_id=intake.patient_id)
        .exclude(pk=intake.pk)
        .exclude(status=IntakeStatus.DRAFT)
        .only("public_id", "status", "submitted_at", "decided_at", "created_at")
        .order_by("-created_at", "-id")
    )


def safety_flags_resolvable_by(viewer: User) -> QuerySet[SafetyFlag]:
    if viewer.role != Role.PHYSICIAN:
        return SafetyFlag.objects.none()
    return SafetyFlag.objects.filter(patient__in=patients_visible_to(viewer).values("pk"))


def open_safety_flags_for(viewer: User) -> QuerySet[SafetyFlag]:
    """Open safety flags (any source: intake, questionnaire, assessment) of the patients in
    the physician's licensed states, oldest raised first, each with its patient (name and
    state only): one query per page whatever its size (plus the count)."""
    if viewer.role != Role.PHYSICIAN:
        return SafetyFlag.objects.none()
    return (
        SafetyFlag.objects.filter(
            resolved_at__isnull=True, patient__state__in=licensed_states(viewer)
        )
        .select_related("patient")
        .only(
            "public_id",
            "kind",
            "source",
            "source_id",
            "raised_at",
            "patient",
            "patient__public_id",
            "patient__legal_first_name",
            "patient__legal_last_name",
            "patient__state",
        )
        .order_by("raised_at", "id")
    )


def reviewable_safety_flag(viewer: User, public_id: uuid.UUID | str) -> SafetyFlag:
    """One safety flag (open or resolved) of a patient in the physician's licensed states,
    with its patient and resolver, or NotFound."""
    flag = (
        safety_flags_resolvable_by(viewer)
        .filter(public_id=public_id)
        .select_related("patient", "resolved_by")
        .first()
    )
    if flag is None:
        raise NotFound("No such safety flag.")
    return flag

"""Intake and physician review, read side: a patient's current intake, the review queue,
what a physician may open, and the answers other apps ask ("is the intake approved?",
"is a safety flag open?").

Authorization is a queryset question: a physician reaches intakes and safety flags only
of patients in the states where they hold an active, unexpired licence
(`licensed_states`), and never a draft; anything else answers 404.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from psycopg import pq

from accounts.models import LicenseStatus, Role, User
from accounts.selectors import licensed_states
from audit.services import audit_reads_params, audit_reads_sql
from core.clock import practice_today
from core.crypto import decrypt
from core.errors import NotFound
from patients.models import (
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


def intake_approved(patient: Patient) -> bool:
    """Whether the patient's latest intake is approved (for clinical clearance): a newer
    intake, once one exists, withdraws the approval until it is approved itself."""
    latest = (
        Intake.objects.filter(patient=patient)
        .order_by("-created_at", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return latest == IntakeStatus.APPROVED


def open_safety_flags(patient: Patient) -> QuerySet[SafetyFlag]:
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
    """Submitted intakes, and intakes whose requested information has all been given."""
    return Q(status=IntakeStatus.SUBMITTED) | (
        Q(status=IntakeStatus.INFO_REQUESTED) & ~Q(Exists(unanswered_questions(OuterRef("pk"))))
    )


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
    review_queue_page() (one hand-written statement), and tests hold the two to the same
    rows in the same order."""
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
    """How many intakes review_queue_page() pages through (reads and audits nothing)."""
    queue = review_queue(viewer)
    if state is not None:
        queue = queue.filter(patient__state=state)
    if flagged is not None:
        queue = queue.filter(Q(has_open_flag=flagged))  # annotated by review_queue()
    return queue.count()


class QueueFlag(NamedTuple):
    public_id: uuid.UUID
    kind: str
    raised_at: datetime


class QueueRow(NamedTuple):
    """One intake of the review queue, with what the queue shows of it (nothing else is
    read or decrypted: not the answers, not the screening document, not the rest of the
    patient's record). A tuple: twenty per page are built on every read of the queue."""

    public_id: uuid.UUID
    status: str
    submitted_at: datetime | None
    outcome: str | None
    patient_public_id: uuid.UUID
    patient_first_name: str
    patient_last_name: str
    state: str
    open_flags: list[QueueFlag]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int | None  # None: no row at this offset, so the total was not counted


@functools.cache
def _queue_sql(*, by_state: bool, by_flag: bool, commit_async: bool) -> str:
    """review_queue() as one statement: the page, its total (a window count over the same
    rows), each row's open flags, and a read event for each intake on the page. Hand-
    written because compiling the ORM query and its count cost ten times running them
    (see benchmarks/); tests hold both to the same answer.

    The licensed states are a subquery, as in licensed_states(); the flags and the rest
    of each row are read for the page's rows only, after LIMIT."""
    where_state = "AND p.state = %(state)s" if by_state else ""
    where_flag = "WHERE a.flagged = %(flagged)s" if by_flag else ""
    audit = audit_reads_sql(
        "page", "page.intake_public_id", "page.patient_public_id", commit_async=commit_async
    )
    audit_flags = audit_reads_sql(
        "page_flags",
        "page_flags.public_id",
        "page_flags.patient_public_id",
        commit_async=commit_async,
        object_type="%(audit_flag_type)s",
    )
    return f"""
        WITH awaiting AS (
            SELECT i.id, i.public_id AS intake_public_id, i.submitted_at,
                   i.patient_id, p.public_id AS patient_public_id,
                   EXISTS (SELECT 1 FROM patients_safetyflag f
                           WHERE f.patient_id = i.patient_id AND f.resolved_at IS NULL
                   ) AS flagged
            FROM patients_intake i
            JOIN patients_patient p ON p.id = i.patient_id
            WHERE p.state IN (
                    SELECT l.state FROM accounts_statelicense l
                    JOIN accounts_physicianprofile d ON d.id = l.physician_id
                    WHERE d.user_id = %(viewer)s AND l.status = %(active)s
                      AND l.expires_on >= %(today)s)
              AND (i.status = %(submitted)s
                   OR (i.status = %(info_requested)s AND NOT EXISTS (
                       SELECT 1 FROM patients_intakereview r
                       WHERE r.intake_id = i.id AND r.action = %(request_info)s
                         AND r.answered_at IS NULL)))
              {where_state}
        ), page AS (
            SELECT a.*, count(*) OVER () AS total FROM awaiting a {where_flag}
            ORDER BY a.flagged DESC, a.submitted_at, a.id
            LIMIT %(limit)s OFFSET %(offset)s
        ), audited AS (
            {audit}
        ), page_flags AS (
            SELECT f.public_id, page.patient_public_id
            FROM page JOIN patients_safetyflag f
              ON page.flagged AND f.patient_id = page.patient_id AND f.resolved_at IS NULL
        ), audited_flags AS (
            {audit_flags}
        )
        SELECT page.intake_public_id, i.status, page.submitted_at, i.screening_outcome,
               page.patient_public_id, p.legal_first_name, p.legal_last_name, p.state,
               page.total, fl.ids, fl.kinds, fl.raised
        FROM page
        JOIN patients_intake i ON i.id = page.id
        JOIN patients_patient p ON p.id = page.patient_id
        LEFT JOIN LATERAL (
            SELECT array_agg(f.public_id ORDER BY f.raised_at, f.id) AS ids,
                   array_agg(f.kind ORDER BY f.raised_at, f.id) AS kinds,
                   array_agg(f.raised_at ORDER BY f.raised_at, f.id) AS raised
            FROM patients_safetyflag f
            WHERE page.flagged AND f.patient_id = page.patient_id AND f.resolved_at IS NULL
        ) fl ON TRUE
        ORDER BY page.flagged DESC, page.submitted_at, page.id
    """  # noqa: S608  (constant text; every value is a bound parameter)


def review_queue_page(
    viewer: User,
    *,
    offset: int,
    limit: int,
    state: str | None = None,
    flagged: bool | None = None,
) -> QueuePage:
    """One page of review_queue(viewer) (optionally one state, or only flagged / only
    unflagged patients) with the queue's total, in one statement whatever its size, which
    also audits the read of every intake and open safety flag on the page (one event
    each: `patients.intake` / `patients.safetyflag`, its and its patient's public ids)."""
    if viewer.role != Role.PHYSICIAN:
        return QueuePage([], 0 if offset == 0 else None)
    params, commit_async = audit_reads_params(actor=viewer, object_type="patients.intake")
    params.update(
        viewer=viewer.pk,
        active=LicenseStatus.ACTIVE.value,
        today=practice_today(),
        submitted=IntakeStatus.SUBMITTED.value,
        info_requested=IntakeStatus.INFO_REQUESTED.value,
        request_info=ReviewAction.REQUEST_INFO.value,
        state=state,
        flagged=flagged,
        limit=limit,
        offset=offset,
        audit_flag_type="patients.safetyflag",
    )
    sql = _queue_sql(by_state=state is not None, by_flag=flagged is not None,
                     commit_async=commit_async)  # fmt: skip
    with connection.cursor() as cursor:
        # Rows in binary: psycopg's C loaders for the ids and times instead of Django's
        # Python one for text timestamps (no jsonb or inet column here, whose binary
        # form Django does not expect).
        # Client-side binding (DB_SERVER_SIDE_BINDING off, for PgBouncer) cannot do binary.
        if not isinstance(cursor.cursor, psycopg.ClientCursor):
            cursor.cursor.format = pq.Format.BINARY
        cursor.execute(sql, params)
        records = cursor.fetchall()
    if not records:
        return QueuePage([], 0 if offset == 0 else None)
    return QueuePage([_queue_row(record) for record in records], records[0][8])


def _queue_row(record: tuple[Any, ...]) -> QueueRow:
    (public_id, status, submitted_at, outcome, patient_id, first_name, last_name, state,
     _total, flag_ids, flag_kinds, flags_raised_at) = record  # fmt: skip
    return QueueRow(
        public_id=public_id,
        status=status,
        submitted_at=submitted_at,
        outcome=None if outcome is None else decrypt(outcome),
        patient_public_id=patient_id,
        patient_first_name="" if first_name is None else decrypt(first_name),
        patient_last_name="" if last_name is None else decrypt(last_name),
        state=state,
        open_flags=[
            QueueFlag(flag_id, decrypt(kind), raised_at)
            for flag_id, kind, raised_at in zip(
                flag_ids or (), flag_kinds or (), flags_raised_at or (), strict=True
            )
        ],
    )


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

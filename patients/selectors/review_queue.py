"""The review queue's page as one hand-written statement: the fast path of
patients.selectors.review.review_queue(), which stays the readable definition.

Compiling the ORM query and its count cost several times running them, so the API reads
each page here: the page, its total (a window count over the same rows), each row's open
safety flags and a read event for every intake and flag shown, in one round trip.
benchmarks/README.md records what it buys ("queue").

The statement restates two rules: what awaits review (review.awaiting_review) and the
states a physician may treat in (accounts.selectors.licensed_states).
tests/patients/test_review_rules.py holds each restatement to its definition over every
case the rule distinguishes; change both together. Names come from the models' `_meta`.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString, NamedTuple

from django.db import connection
from psycopg import sql

from accounts.models import LicenseStatus, PhysicianProfile, Role, StateLicense, User
from audit.services import audit_reads_params, audit_reads_sql
from core.clock import practice_today
from patients.models import Intake, IntakeReview, IntakeStatus, Patient, ReviewAction, SafetyFlag
from patients.selectors.sqlnames import column, table

INTAKE_TYPE = Intake._meta.label_lower
FLAG_TYPE = SafetyFlag._meta.label_lower


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


def _names() -> dict[str, sql.Composable]:
    """Every table and column the statement names, from _meta: {i_status} is
    Intake.status under alias i, {intake} the intake table, and so on."""
    aliases = {
        "i": Intake,
        "p": Patient,
        "f": SafetyFlag,
        "l": StateLicense,
        "d": PhysicianProfile,
        "r": IntakeReview,
    }
    fields = {
        "i": ["id", "public_id", "submitted_at", "patient", "status", "screening_outcome"],
        "p": ["id", "public_id", "state", "legal_first_name", "legal_last_name"],
        "f": ["id", "public_id", "patient", "kind", "raised_at", "resolved_at"],
        "l": ["state", "physician", "status", "expires_on"],
        "d": ["id", "user"],
        "r": ["intake", "action", "answered_at"],
    }
    names: dict[str, sql.Composable] = {
        "intake": table(Intake),
        "patient": table(Patient),
        "flag": table(SafetyFlag),
        "license": table(StateLicense),
        "physician": table(PhysicianProfile),
        "review": table(IntakeReview),
    }
    for alias, model in aliases.items():
        for name in fields[alias]:
            names[f"{alias}_{name}"] = column(model, name, alias)
    return names


# Awaiting review (review.awaiting_review) and the viewer's licensed states
# (accounts.selectors.licensed_states), restated; see the module docstring.
_AWAITING: LiteralString = """
    SELECT {i_id}, {i_public_id} AS intake_public_id, {i_submitted_at} AS submitted_at,
           {i_patient} AS patient_id, {p_public_id} AS patient_public_id,
           EXISTS (SELECT 1 FROM {flag} f
                   WHERE {f_patient} = {i_patient} AND {f_resolved_at} IS NULL) AS flagged
    FROM {intake} i
    JOIN {patient} p ON {p_id} = {i_patient}
    WHERE {p_state} IN (
            SELECT {l_state} FROM {license} l
            JOIN {physician} d ON {d_id} = {l_physician}
            WHERE {d_user} = %(viewer)s AND {l_status} = %(active)s
              AND {l_expires_on} >= %(today)s)
      AND ({i_status} = %(submitted)s
           OR ({i_status} = %(info_requested)s AND NOT EXISTS (
               SELECT 1 FROM {review} r
               WHERE {r_intake} = {i_id} AND {r_action} = %(request_info)s
                 AND {r_answered_at} IS NULL)))
"""
_BY_STATE: LiteralString = "AND {p_state} = %(state)s"
_BY_FLAG: LiteralString = "WHERE a.flagged = %(flagged)s"

_PAGE: LiteralString = """
    WITH awaiting AS ({awaiting} {by_state}),
    page AS (
        SELECT a.*, count(*) OVER () AS total FROM awaiting a {by_flag}
        ORDER BY a.flagged DESC, a.submitted_at, a.id
        LIMIT %(limit)s OFFSET %(offset)s
    ),
    audited AS ({audit}),
    page_flags AS (
        SELECT {f_public_id} AS flag_public_id, page.patient_public_id
        FROM page JOIN {flag} f
          ON page.flagged AND {f_patient} = page.patient_id AND {f_resolved_at} IS NULL
    ),
    audited_flags AS ({audit_flags})
    SELECT page.intake_public_id, {i_status}, page.submitted_at, {i_screening_outcome},
           page.patient_public_id, {p_legal_first_name}, {p_legal_last_name}, {p_state},
           page.total, fl.ids, fl.kinds, fl.raised
    FROM page
    JOIN {intake} i ON {i_id} = page.id
    JOIN {patient} p ON {p_id} = page.patient_id
    LEFT JOIN LATERAL (
        SELECT array_agg({f_public_id} ORDER BY {f_raised_at}, {f_id}) AS ids,
               array_agg({f_kind} ORDER BY {f_raised_at}, {f_id}) AS kinds,
               array_agg({f_raised_at} ORDER BY {f_raised_at}, {f_id}) AS raised
        FROM {flag} f
        WHERE page.flagged AND {f_patient} = page.patient_id AND {f_resolved_at} IS NULL
    ) fl ON TRUE
    ORDER BY page.flagged DESC, page.submitted_at, page.id
"""


def _fragment(text: LiteralString, names: dict[str, sql.Composable]) -> sql.Composed:
    return sql.SQL(text).format(**names)


@functools.cache
def _queue_sql(*, by_state: bool, by_flag: bool, commit_async: bool) -> str:
    """The statement of review_queue_page_audited() for one combination of filters (cached: one
    text each, so psycopg prepares it once)."""
    names = _names()
    page_id = sql.Identifier("page", "intake_public_id").as_string()
    page_patient = sql.Identifier("page", "patient_public_id").as_string()
    flag_id = sql.Identifier("page_flags", "flag_public_id").as_string()
    flag_patient = sql.Identifier("page_flags", "patient_public_id").as_string()
    # audit's own constant text; its values are bound parameters.
    audit = audit_reads_sql("page", page_id, page_patient, commit_async=commit_async)
    audit_flags = audit_reads_sql(
        "page_flags",
        flag_id,
        flag_patient,
        commit_async=commit_async,
        object_type="%(audit_flag_type)s",
    )
    statement = _fragment(_PAGE, names | {
        "awaiting": _fragment(_AWAITING, names),
        "by_state": _fragment(_BY_STATE, names) if by_state else sql.SQL(""),
        "by_flag": _fragment(_BY_FLAG, names) if by_flag else sql.SQL(""),
        "audit": sql.SQL(audit),
        "audit_flags": sql.SQL(audit_flags),
    })  # fmt: skip
    return statement.as_string()


def _queue_params(viewer: User) -> dict[str, Any]:
    """The values of the restated rules (the viewer's licensed states, awaiting review)."""
    return {
        "viewer": viewer.pk,
        "active": LicenseStatus.ACTIVE.value,
        "today": practice_today(),
        "submitted": IntakeStatus.SUBMITTED.value,
        "info_requested": IntakeStatus.INFO_REQUESTED.value,
        "request_info": ReviewAction.REQUEST_INFO.value,
    }


def review_queue_page_audited(
    viewer: User,
    *,
    offset: int,
    limit: int,
    state: str | None = None,
    flagged: bool | None = None,
) -> QueuePage:
    """One page of review.review_queue(viewer) (optionally one state, or only flagged /
    only unflagged patients) with the queue's total, in one statement whatever its size,
    which also audits the read of every intake and open safety flag on the page (one
    event each: `patients.intake` / `patients.safetyflag`, its and its patient's public
    ids)."""
    if viewer.role != Role.PHYSICIAN or not viewer.is_active:
        return QueuePage([], 0 if offset == 0 else None)
    params, commit_async = audit_reads_params(actor=viewer, object_type=INTAKE_TYPE)
    params.update(
        _queue_params(viewer),
        state=state,
        flagged=flagged,
        limit=limit,
        offset=offset,
        audit_flag_type=FLAG_TYPE,
    )
    statement = _queue_sql(
        by_state=state is not None, by_flag=flagged is not None, commit_async=commit_async
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        records = cursor.fetchall()
    if not records:
        return QueuePage([], 0 if offset == 0 else None)
    return QueuePage([_queue_row(record) for record in records], records[0][8])


def _decrypter(model: type[Any], name: str) -> Any:
    field = model._meta.get_field(name)
    return lambda value: field.from_db_value(value, None, connection)


_OUTCOME = _decrypter(Intake, "screening_outcome")
_FIRST_NAME = _decrypter(Patient, "legal_first_name")
_LAST_NAME = _decrypter(Patient, "legal_last_name")
_KIND = _decrypter(SafetyFlag, "kind")


def _queue_row(record: tuple[Any, ...]) -> QueueRow:
    (public_id, status, submitted_at, outcome, patient_id, first_name, last_name, state,
     _total, flag_ids, flag_kinds, flags_raised_at) = record  # fmt: skip
    return QueueRow(
        public_id=public_id,
        status=status,
        submitted_at=submitted_at,
        outcome=_OUTCOME(outcome),
        patient_public_id=patient_id,
        patient_first_name=_FIRST_NAME(first_name) or "",
        patient_last_name=_LAST_NAME(last_name) or "",
        state=state,
        open_flags=[
            QueueFlag(flag_id, _KIND(kind), raised_at)
            for flag_id, kind, raised_at in zip(
                flag_ids or (), flag_kinds or (), flags_raised_at or (), strict=True
            )
        ],
    )

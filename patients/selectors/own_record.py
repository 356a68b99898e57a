"""The user's own patient record: the read nearly every patient request starts with.

Hand-written SQL (composed from the model's `_meta`) because building the ORM query costs
more than running it; benchmarks/README.md records what it buys ("record")."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from psycopg import sql

from accounts.models import User
from audit.services import audit_reads_params, audit_reads_sql
from core.errors import Conflict
from patients.models import Patient
from patients.selectors.sqlnames import column, table

PATIENT_TYPE = Patient._meta.label_lower


@functools.cache
def _patient_query(*, audited: bool, commit_async: bool) -> str:
    """SELECT of every Patient column by user and, when `audited`, the INSERT of its read
    event in the same statement (cached: one text per variant, prepared once)."""
    fields = Patient._meta.concrete_fields
    select = sql.SQL("SELECT {columns} FROM {table} WHERE {user} = %(user)s").format(
        columns=sql.SQL(", ").join([column(Patient, f.name) for f in fields]),
        table=table(Patient),
        user=column(Patient, "user"),
    )
    if audited:
        public_id = column(Patient, "public_id", "p").as_string()
        # audit's own constant text (its values are bound parameters).
        audit = sql.SQL(audit_reads_sql("p", public_id, public_id, commit_async=commit_async))
        select = sql.SQL("WITH p AS ({select}), audited AS ({audit}) SELECT * FROM p").format(
            select=select, audit=audit
        )
    return select.as_string()


def _read(
    user: User, params: dict[str, Any], *, audited: bool, commit_async: bool
) -> Patient | None:
    fields = Patient._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_patient_query(audited=audited, commit_async=commit_async), params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        value if (convert := getattr(field, "from_db_value", None)) is None
        else convert(value, None, connection)
        for value, field in zip(row, fields, strict=True)
    ]  # fmt: skip
    patient = Patient.from_db("default", [f.attname for f in fields], values)
    patient.user = user
    return patient


def patient_of(user: User) -> Patient | None:
    """The user's own patient record (the caller already holds the user: no join)."""
    return _read(user, {"user": user.pk}, audited=False, commit_async=False)


def patient_of_audited(user: User) -> Patient | None:
    """patient_of(), with the audit event of reading it written by the same statement."""
    params, commit_async = audit_reads_params(actor=user, object_type=PATIENT_TYPE)
    params["user"] = user.pk
    return _read(user, params, audited=True, commit_async=commit_async)


def own_record(user: User) -> Patient:
    """The user's patient record, for actions that need one: 409 `no_record` until the
    patient has completed it."""
    patient = patient_of(user)
    if patient is None:
        raise Conflict("Complete your patient record first.", code="no_record")
    return patient

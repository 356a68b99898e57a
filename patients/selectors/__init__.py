from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import LicenseStatus, Role, StateLicense, User
from accounts.services import practice_today
from config.errors import Conflict, NotFound
from patients.models import Patient, phone_lookup_hash


@dataclass(frozen=True)
class Contact:
    """How to reach a user, resolved when a message is sent (never copied into the outbox)."""

    user_id: int
    email: str
    phone: str  # E.164, or "" when none is on file
    time_zone: str | None  # IANA zone; None when unknown


def contacts_for_users(user_ids: list[int]) -> dict[int, Contact]:
    """Contact details for many users in one query (patients; others get email only)."""
    users = User.objects.filter(pk__in=user_ids).select_related("patient")
    contacts = {}
    for user in users:
        patient: Patient | None = getattr(user, "patient", None)
        contacts[user.pk] = Contact(
            user_id=user.pk,
            email=user.email,
            phone=patient.phone if patient else "",
            time_zone=patient.time_zone or None if patient else None,
        )
    return contacts


def user_ids_for_phone(phone: str) -> list[int]:
    """Users whose phone on file is `phone` (found by keyed hash: phones are encrypted)."""
    matches = Patient.objects.filter(phone_hash=phone_lookup_hash(phone))
    return list(matches.values_list("user_id", flat=True))


@functools.cache
def _patient_query() -> tuple[str, list[str], list[tuple[int, Any]]]:
    """SELECT of every Patient column by user, the attribute names, and the columns whose
    field converts what the database returns (the encrypted ones: from_db_value)."""
    fields = Patient._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    # Identifiers come from model metadata; the user id is a bound parameter.
    sql = f"SELECT {columns} FROM {Patient._meta.db_table} WHERE user_id = %s"  # noqa: S608
    converters = [(n, f.from_db_value) for n, f in enumerate(fields) if hasattr(f, "from_db_value")]
    return sql, [f.attname for f in fields], converters


def patient_of(user: User) -> Patient | None:
    """The user's own patient record (the caller already holds the user: no join).

    Hand-written SQL because nearly every patient request starts here and building the
    ORM (or raw) query costs more than running it (see benchmarks/)."""
    sql, names, converters = _patient_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for n, convert in converters:
        values[n] = convert(values[n], None, connection)
    patient = Patient.from_db("default", names, values)
    patient.user = user
    return patient


def own_record(user: User) -> Patient:
    """The user's patient record, for actions that need one: 409 `no_record` until the
    patient has completed it."""
    patient = patient_of(user)
    if patient is None:
        raise Conflict("Complete your patient record first.", code="no_record")
    return patient


def patients_visible_to(viewer: User) -> QuerySet[Patient]:
    """The patients `viewer` may see: a patient only themself; a physician the patients
    in the states where they hold an active, unexpired licence; ops admins everyone."""
    patients = Patient.objects.select_related("user")
    if viewer.role == Role.OPS_ADMIN:
        return patients
    if viewer.role == Role.PHYSICIAN:
        return patients.filter(state__in=licensed_states(viewer))
    return patients.filter(user=viewer)


def licensed_states(physician_user: User) -> list[str]:
    """States where the physician holds an active, unexpired licence. Fetched as a short
    list first: a nested subquery costs more to compile than this tiny query to run."""
    return list(
        StateLicense.objects.filter(
            physician__user=physician_user,
            status=LicenseStatus.ACTIVE,
            expires_on__gte=practice_today(),
        ).values_list("state", flat=True)
    )


def patient_visible_to(viewer: User, public_id: uuid.UUID | str) -> Patient:
    """One patient, or NotFound: another patient's id looks exactly like a missing one."""
    patient = patients_visible_to(viewer).filter(public_id=public_id).first()
    if patient is None:
        raise NotFound("No such patient.")
    return patient

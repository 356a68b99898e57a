from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import LicenseStatus, Role, StateLicense, User
from audit.services import audit_reads_params, audit_reads_sql
from core.clock import practice_today
from core.errors import Conflict, NotFound
from core.phones import phone_lookup_hash
from notifications.directory import Contact
from patients.models import Patient


class PatientContactDirectory:
    """The notifications contact directory over patient records (registered in
    PatientsConfig.ready): a patient's phone and zone; staff get their account email."""

    def contacts_for_users(self, user_ids: list[int]) -> dict[int, Contact]:
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

    def user_ids_for_phone(self, phone: str) -> list[int]:
        """Found by keyed hash: phones are encrypted."""
        matches = Patient.objects.filter(phone_hash=phone_lookup_hash(phone))
        return list(matches.values_list("user_id", flat=True))

    def patient_ids_for_users(self, user_ids: list[int]) -> dict[int, uuid.UUID]:
        """Patients' public ids by user, in one query; staff are absent."""
        rows = Patient.objects.filter(user_id__in=user_ids).values_list("user_id", "public_id")
        return dict(rows)


@functools.cache
def _patient_query(*, audited: bool, commit_async: bool) -> tuple[str, list[str], list[Any]]:
    """SELECT of every Patient column by user (and, when `audited`, the INSERT of its read
    event in the same statement), the attribute names, and each column's conversion of
    what the database returns (the encrypted fields' from_db_value, else None)."""
    fields = Patient._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)
    # Identifiers come from model metadata; every value is a bound parameter.
    select = f"SELECT {columns} FROM {Patient._meta.db_table} WHERE user_id = %(user)s"  # noqa: S608
    if audited:
        audit = audit_reads_sql("p", "p.public_id", "p.public_id", commit_async=commit_async)
        select = f"WITH p AS ({select}), audited AS ({audit}) SELECT * FROM p"  # noqa: S608
    converters = [getattr(f, "from_db_value", None) for f in fields]
    return select, [f.attname for f in fields], converters


_PATIENT_TYPE = Patient._meta.label_lower


def patient_of(user: User, *, audit_read: bool = False) -> Patient | None:
    """The user's own patient record (the caller already holds the user: no join); with
    `audit_read`, the same statement writes the audit event of reading it.

    Hand-written SQL because nearly every patient request starts here and building the
    ORM (or raw) query costs more than running it (see benchmarks/)."""
    params: dict[str, Any] = {"user": user.pk}
    commit_async = False
    if audit_read:
        audit_params, commit_async = audit_reads_params(actor=user, object_type=_PATIENT_TYPE)
        params.update(audit_params)
    sql, names, converters = _patient_query(audited=audit_read, commit_async=commit_async)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        value if convert is None else convert(value, None, connection)
        for value, convert in zip(row, converters, strict=True)
    ]
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

"""The prescription a refill decides on, found in the viewer's scope
(scoping.prescriptions_visible_to) and locked in one statement, with its patient.

`locked_visible_queryset` is the definition. For a patient (the only role that asks for a
refill) its statement is the same on every request but for the viewer and the id, and
building and compiling it (scope subquery, select_related, the deferred columns, FOR
UPDATE) was about a quarter of a refill request's time. So it is compiled once per
process (core.compiled: stand-in viewer and id) and each request runs it with its
own values. No SQL is written by hand. `tests/prescriptions/test_refill_lock.py` holds
the result to the queryset's own.
"""

from __future__ import annotations

import uuid
from typing import Final

from django.db.models import QuerySet

from accounts.models import Role, User
from core.compiled import CompiledOnce
from prescriptions.models import Prescription
from prescriptions.selectors.scoping import prescriptions_visible_to

# What deciding a refill and making its order never read: left encrypted in the database.
_PATIENT_UNREAD: Final = (
    "patient__date_of_birth",
    "patient__sex_at_birth",
    "patient__phone",
    "patient__emergency_contact_name",
    "patient__emergency_contact_phone",
    "patient__sitter_name",
    "patient__sitter_phone",
)
_PRESCRIPTION_UNREAD: Final = ("directions", "patient_name", "patient_address", "cancel_reason")
_PUBLIC_ID: Final = Prescription._meta.get_field("public_id")


def locked(prescriptions: QuerySet[Prescription]) -> QuerySet[Prescription]:
    """The prescription rows locked, with their patient (only what a refill reads)."""
    return (
        prescriptions.select_related(None)
        .select_related("patient")
        .select_for_update(of=("self",))
        .defer(*_PRESCRIPTION_UNREAD, *_PATIENT_UNREAD)
    )


def locked_visible_queryset(viewer: User, public_id: uuid.UUID | str) -> QuerySet[Prescription]:
    """The viewer's prescription `public_id` (none for anyone else's), locked, at most one."""
    return locked(prescriptions_visible_to(viewer)).filter(public_id=public_id).order_by("pk")[:1]


def _as_patient(viewer_pk: int, public_id: uuid.UUID) -> QuerySet[Prescription]:
    return locked_visible_queryset(User(pk=viewer_pk, role=Role.PATIENT), public_id)


# Compiled on first use, in the caller's transaction (FOR UPDATE needs one).
_AS_PATIENT: Final = CompiledOnce(
    _as_patient,
    (
        {"viewer_pk": -1_000_001, "public_id": uuid.UUID(int=1)},
        {"viewer_pk": -1_000_002, "public_id": uuid.UUID(int=2)},
    ),
)


def prescription_locked_visible(viewer: User, public_id: uuid.UUID | str) -> Prescription | None:
    """locked_visible_queryset(viewer, public_id).first(), without building it again for a
    patient; in the caller's transaction."""
    if viewer.role != Role.PATIENT:
        return locked_visible_queryset(viewer, public_id).first()
    # The id prepared as the ORM's lookup prepares it (a malformed one raises alike).
    return _AS_PATIENT.first(viewer_pk=viewer.pk, public_id=_PUBLIC_ID.get_prep_value(public_id))

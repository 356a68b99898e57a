"""The prescription a refill decides on, found in the viewer's scope
(scoping.prescriptions_visible_to) and locked in one statement, with its patient.

`locked_visible_queryset` is the definition. For a patient (the only role that asks for a
refill) its statement is the same on every request but for the viewer and the id, and
building and compiling it (scope subquery, select_related, the deferred columns, FOR
UPDATE) was about a quarter of a refill request's time. So, like selectors.refill_facts,
it is compiled once per process with two sets of stand-in values, which locate the
viewer's and the id's parameters and prove that nothing else depends on them (otherwise
the first request raises, which the tests see); each request runs it with its own values
and Django's own converters and related populators make the objects. No SQL is written by
hand. `tests/prescriptions/test_refill_lock.py` holds the result to the queryset's own.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any, Final

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connection
from django.db.models import QuerySet
from django.db.models.query import get_related_populators
from django.dispatch import receiver

from accounts.models import Role, User
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


# Two (viewer pk, prescription id) pairs no real row gives.
_STAND_INS: Final = (
    (-1_000_001, uuid.UUID(int=1)),
    (-1_000_002, uuid.UUID(int=2)),
)


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, "viewer" or "id")
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]  # (column, functions, expression)
    init_list: tuple[str, ...]  # the prescription's columns, first in the row
    populators: tuple[Any, ...]  # the patient's (Django's RelatedPopulator)


@functools.cache
def _statement() -> _Statement:
    """Compiled in the caller's transaction (FOR UPDATE needs one)."""
    compiled = []
    for viewer_pk, public_id in _STAND_INS:
        viewer = User(pk=viewer_pk, role=Role.PATIENT)
        compiler = locked_visible_queryset(viewer, public_id).query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        compiled.append((compiler, sql, tuple(params)))
    (compiler, sql, params), (_, sql2, params2) = compiled
    if sql != sql2 or len(params) != len(params2):
        raise ImproperlyConfigured("The refill lock's SQL depends on the viewer or id.")
    (viewer1, id1), (viewer2, id2) = _STAND_INS
    slots = []
    for position, pair in enumerate(zip(params, params2, strict=True)):
        if pair == (viewer1, viewer2):
            slots.append((position, "viewer"))
        elif pair == (id1, id2):
            slots.append((position, "id"))
        elif pair[0] != pair[1]:
            raise ImproperlyConfigured(f"Refill lock: parameter {position} is derived.")
    if sorted(slot for _, slot in slots) != ["id", "viewer"]:
        raise ImproperlyConfigured("Refill lock: the viewer or id is not a parameter.")
    select, klass_info = compiler.select, compiler.klass_info or {}
    fields = klass_info["select_fields"]
    if fields != list(range(len(fields))) or compiler.annotation_col_map:
        raise ImproperlyConfigured("Refill lock: unexpected column order.")
    converters = compiler.get_converters([column for column, _, _ in select])
    return _Statement(
        sql=sql,
        params=params,
        slots=tuple(slots),
        converters=tuple((i, tuple(fns), expr) for i, (fns, expr) in converters.items()),
        init_list=tuple(select[i][0].target.attname for i in fields),
        # django-stubs describe a later Django's signature (a fetch_mode argument).
        populators=tuple(get_related_populators(klass_info, select, connection.alias)),  # type: ignore[call-arg]
    )


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    _statement.cache_clear()


def prescription_locked_visible(viewer: User, public_id: uuid.UUID | str) -> Prescription | None:
    """locked_visible_queryset(viewer, public_id).first(), without building it again for a
    patient; in the caller's transaction."""
    if viewer.role != Role.PATIENT:
        return locked_visible_queryset(viewer, public_id).first()
    statement = _statement()
    # The id prepared as the ORM's lookup prepares it (a malformed one raises alike).
    values = {"viewer": viewer.pk, "id": _PUBLIC_ID.get_prep_value(public_id)}
    params = list(statement.params)
    for position, slot in statement.slots:
        params[position] = values[slot]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        fetched = cursor.fetchone()
    if fetched is None:
        return None
    row = list(fetched)
    for position, functions, expression in statement.converters:
        for function in functions:
            row[position] = function(row[position], expression, connection)
    count = len(statement.init_list)
    prescription = Prescription.from_db(connection.alias, list(statement.init_list), row[:count])
    for populator in statement.populators:
        populator.populate(row, prescription)
    return prescription

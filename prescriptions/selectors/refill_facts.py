"""What a refill is decided from besides its prescription and fills: the check-in
cadence's, the clearance's and the membership's facts, in one query that each rule's own
selector builds (scheduling.selectors.cadence.with_check_in_facts,
patients.clearance.clearance_facts, billing.selectors.membership_facts).

That queryset holds a dozen subqueries: building and compiling it was about half of a
refill request's Python time, while its SQL is the same on every request and only the
patient and the moment change. So it is compiled once per process, twice over, with two
sets of stand-in values: that finds where the patient and the moment go and proves that
nothing else in it depends on them (otherwise the first request raises, which the tests
see). Each request runs that statement with its own values, and the row becomes the
annotated patient that the rules' own `check_in_status_of`, `clearance_of` and
`membership_gate_of` read. No SQL is written by hand here: a change to a rule's selector
changes the statement with it. `tests/prescriptions/test_refill_facts.py` holds the row
to the queryset's own.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import connection
from django.db.models import QuerySet
from django.dispatch import receiver

from billing.selectors import membership_facts
from patients.clearance import clearance_facts
from patients.models import Patient
from scheduling.selectors.cadence import with_check_in_facts

# Two (patient pk, moment) pairs no real row or clock gives.
_STAND_INS: Final = (
    (-1_000_001, datetime(1901, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
    (-1_000_002, datetime(1902, 2, 2, 0, 0, 0, 2, tzinfo=UTC)),
)
_JSON_COLUMNS: Final = frozenset({"membership_facts"})


def refill_facts_queryset(patient_pk: int, now: datetime) -> QuerySet[Patient]:
    """The patient's row (only its zone) annotated with every rule's facts."""
    patients = Patient.objects.filter(pk=patient_pk).only("time_zone")
    return membership_facts(clearance_facts(with_check_in_facts(patients, now), now))


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, "pk" or "now")
    fields: tuple[str, ...]  # the model's columns first in the row
    annotations: tuple[str, ...]  # then these


@functools.cache
def _statement() -> _Statement:
    (pk1, now1), (pk2, now2) = _STAND_INS
    compiled = []
    for pk, now in _STAND_INS:
        compiler = refill_facts_queryset(pk, now).query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        compiled.append((compiler, sql, tuple(params)))
    (compiler, sql, params), (_, sql2, params2) = compiled
    if sql != sql2 or len(params) != len(params2):
        raise ImproperlyConfigured("The refill facts' SQL depends on the patient or moment.")
    slots = []
    for position, pair in enumerate(zip(params, params2, strict=True)):
        if pair == (pk1, pk2):
            slots.append((position, "pk"))
        elif pair == (now1, now2):
            slots.append((position, "now"))
        elif pair[0] != pair[1]:
            raise ImproperlyConfigured(f"Refill facts: parameter {position} is derived.")
    klass_info = compiler.klass_info or {}
    fields = tuple(compiler.select[i][0].target.attname for i in klass_info["select_fields"])
    by_position = sorted(compiler.annotation_col_map.items(), key=lambda item: item[1])
    if [position for _, position in by_position] != list(
        range(len(fields), len(fields) + len(by_position))
    ):
        raise ImproperlyConfigured("Refill facts: unexpected column order.")
    return _Statement(sql, params, tuple(slots), fields, tuple(name for name, _ in by_position))


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    # A rule's setting (an interval, a grace period) may be a constant of the statement.
    _statement.cache_clear()


def refill_facts(patient_pk: int, now: datetime) -> Patient:
    """refill_facts_queryset(patient_pk, now).get(), without building it again."""
    statement = _statement()
    params = list(statement.params)
    for position, slot in statement.slots:
        params[position] = patient_pk if slot == "pk" else now
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        raise Patient.DoesNotExist("No such patient.")
    count = len(statement.fields)
    patient = Patient.from_db(connection.alias, list(statement.fields), row[:count])
    for name, value in zip(statement.annotations, row[count:], strict=True):
        if name in _JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        setattr(patient, name, value)
    return patient

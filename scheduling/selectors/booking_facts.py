"""The patient a check-in booking is decided on, with every gate's facts, in one query:
the clearance's (patients.clearance.clearance_facts) and the membership's
(billing.selectors.membership_facts), each rule's own selector, decided by their own
`clearance_of` and `membership_gate_of`. Only the columns booking reads of the patient
(its state, zone and ids): nothing encrypted is read or decrypted.

The queryset is compiled once per process (core.compiled);
`tests/scheduling/test_booking_facts.py` holds its rows to the queryset's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from django.db.models import QuerySet

from billing.selectors import membership_facts
from core.compiled import CompiledOnce
from patients.clearance import clearance_facts
from patients.models import Patient

BOOKING_COLUMNS: Final = ("public_id", "user_id", "state", "time_zone")
# The moment the facts were read at, set on the patient: the moment they are decided at.
FACTS_AT: Final = "booking_facts_at"


def booking_facts_queryset(patients: QuerySet[Patient], now: datetime) -> QuerySet[Patient]:
    """`patients` (only what booking reads of them) annotated with every gate's facts."""
    return membership_facts(clearance_facts(patients.only(*BOOKING_COLUMNS), now))


def _by_pk(pk: int, now: datetime) -> QuerySet[Patient]:
    return booking_facts_queryset(Patient.objects.filter(pk=pk), now)


def _by_user(user_id: int, now: datetime) -> QuerySet[Patient]:
    return booking_facts_queryset(Patient.objects.filter(user_id=user_id), now)


_MOMENTS: Final = (
    datetime(1901, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(1902, 2, 2, 0, 0, 0, 2, tzinfo=UTC),
)
_BY_PK: Final = CompiledOnce(
    _by_pk, ({"pk": -1_000_001, "now": _MOMENTS[0]}, {"pk": -1_000_002, "now": _MOMENTS[1]})
)
_BY_USER: Final = CompiledOnce(
    _by_user,
    ({"user_id": -1_000_001, "now": _MOMENTS[0]}, {"user_id": -1_000_002, "now": _MOMENTS[1]}),
)


def booking_facts(pk: int, now: datetime) -> Patient | None:
    """_by_pk(pk, now).first(), without building it again."""
    return _with_moment(_BY_PK.first(pk=pk, now=now), now)


def booking_facts_of_user(user_id: int, now: datetime) -> Patient | None:
    """The user's own patient record read through booking_facts_queryset, or None."""
    return _with_moment(_BY_USER.first(user_id=user_id, now=now), now)


def _with_moment(patient: Patient | None, now: datetime) -> Patient | None:
    if patient is not None:
        setattr(patient, FACTS_AT, now)
    return patient

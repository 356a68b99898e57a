"""What a refill is decided from besides its prescription and fills: the check-in
cadence's, the clearance's and the membership's facts, in one query that each rule's own
selector builds (scheduling.selectors.cadence.with_check_in_facts,
patients.clearance.clearance_facts, billing.selectors.membership_facts).

That queryset holds a dozen subqueries: building and compiling it was about half of a
refill request's Python time, while its SQL is the same on every request and only the
patient and the moment change. So it is compiled once per process (core.compiled), and
the row becomes the annotated patient that the rules' own `check_in_status_of`,
`clearance_of` and `membership_gate_of` read. No SQL is written by hand here: a change to
a rule's selector changes the statement with it. `tests/prescriptions/test_refill_facts.py`
holds the row to the queryset's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from django.db.models import QuerySet

from billing.selectors import membership_facts
from core.compiled import CompiledOnce
from patients.clearance import clearance_facts
from patients.models import Patient
from scheduling.selectors.cadence import with_check_in_facts


def refill_facts_queryset(patient_pk: int, now: datetime) -> QuerySet[Patient]:
    """The patient's row (only its zone) annotated with every rule's facts."""
    patients = Patient.objects.filter(pk=patient_pk).only("time_zone")
    return membership_facts(clearance_facts(with_check_in_facts(patients, now), now))


# Compiled once per process (core.compiled): two (patient pk, moment) pairs no real row or
# clock gives stand in for the request's.
_FACTS: Final = CompiledOnce(
    refill_facts_queryset,
    (
        {"patient_pk": -1_000_001, "now": datetime(1901, 1, 1, 0, 0, 0, 1, tzinfo=UTC)},
        {"patient_pk": -1_000_002, "now": datetime(1902, 2, 2, 0, 0, 0, 2, tzinfo=UTC)},
    ),
)


def refill_facts(patient_pk: int, now: datetime) -> Patient:
    """refill_facts_queryset(patient_pk, now).get(), without building it again."""
    patient = _FACTS.first(patient_pk=patient_pk, now=now)
    if patient is None:
        raise Patient.DoesNotExist("No such patient.")
    return patient

"""Statements compiled once (core.compiled) read what their querysets
read: a prescription's fills (replacements left out, ship-to left encrypted, in fill
order) and the pharmacy an order goes to (inactive ones and other states left out, the
first by id); and a queryset whose SQL depends on its values is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from core.compiled import CompiledOnce
from patients.models import Patient
from prescriptions.models import DeliveryOrder, EventSource, OrderKind, Pharmacy
from prescriptions.services.orders import order_create, pharmacies_for, pharmacy_for
from prescriptions.services.refills import _fills, fills_queryset
from tests.prescriptions.support import pharmacy, prescription_for

pytestmark = pytest.mark.django_db


def loaded(objects: list[Model] | list[Pharmacy | None]) -> list[object]:
    return [
        None
        if obj is None
        else (obj.get_deferred_fields(), {f: v for f, v in obj.__dict__.items() if f[0] != "_"})
        for obj in objects
    ]


def test_fills_are_the_querysets(patient, physician):
    pharmacy()
    prescription = prescription_for(patient, physician)
    assert _fills(prescription) == []
    first = order_create(
        prescription=prescription,
        patient=prescription.patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )
    later = ((OrderKind.REPLACEMENT, None, first), (OrderKind.REFILL, 1, None))
    for kind, number, replaces in later:
        order_create(
            prescription=prescription,
            patient=prescription.patient,
            kind=kind,
            fill_number=number,
            replaces=replaces,
            source=EventSource.SYSTEM,
            actor=None,
        )
    compiled = _fills(prescription)
    assert [o.fill_number for o in compiled] == [0, 1]
    assert loaded(compiled) == loaded(list(fills_queryset(prescription.pk)))
    assert "ship_to_line1" in compiled[0].get_deferred_fields()
    assert DeliveryOrder.objects.count() == 3


def test_the_pharmacy_is_the_querysets():
    assert pharmacy_for("FL") is None
    pharmacy(npi="1111111112", active=False)
    pharmacy(npi="2222222224", ships_to=("NJ",))
    pharmacy(npi="3333333336")
    pharmacy(npi="4444444448", ships_to=("FL",))
    for state in ("FL", "NJ", "NY"):
        assert loaded([pharmacy_for(state)]) == loaded([pharmacies_for(state).first()])
    chosen = pharmacy_for("FL")
    assert chosen is not None and chosen.npi == "3333333336"


def test_a_statement_that_depends_on_its_values_is_refused():
    def by_sign(pk: int):
        return Patient.objects.filter(pk=pk) if pk > -2 else Patient.objects.filter(pk__lt=pk)

    def derived(pk: int):
        return Patient.objects.filter(pk=pk, user_id=pk * 10)

    def unused(pk: int):
        return Patient.objects.all()

    for build in (by_sign, derived, unused):
        with pytest.raises(ImproperlyConfigured):
            CompiledOnce(build, ({"pk": -1}, {"pk": -2})).first(pk=1)

"""The refill lock's statement, compiled once, finds what its queryset finds: the
patient's own prescription (same columns loaded, same ones left deferred, the same
patient with it), nothing for another patient's or a missing id, and a physician's
lookup through the queryset itself."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from prescriptions.models import Prescription
from prescriptions.selectors.refill_lock import locked_visible_queryset, prescription_locked_visible
from tests.prescriptions.support import prescription_for

pytestmark = pytest.mark.django_db


def loaded(prescription: Prescription | None) -> dict[str, object] | None:
    if prescription is None:
        return None
    patient = prescription.patient  # already there: select_related
    return {
        "deferred": prescription.get_deferred_fields(),
        "values": {f: getattr(prescription, f) for f in prescription.__dict__ if f[0] != "_"},
        "patient_deferred": patient.get_deferred_fields(),
        "patient": {f: getattr(patient, f) for f in patient.__dict__ if f[0] != "_"},
    }


def assert_same(viewer, public_id) -> None:
    with transaction.atomic():
        built = locked_visible_queryset(viewer, public_id).first()
        with CaptureQueriesContext(connection) as queries:
            compiled = prescription_locked_visible(viewer, public_id)
            assert loaded(compiled) == loaded(built)
        assert len(queries) == 1  # the patient came with it
        assert "FOR UPDATE" in queries[0]["sql"]


def test_the_compiled_lock_finds_what_the_queryset_finds(patient, other_patient, physician):
    mine = prescription_for(patient, physician)
    theirs = prescription_for(other_patient, physician)

    assert_same(patient, mine.public_id)
    assert_same(patient, str(mine.public_id))
    assert_same(patient, theirs.public_id)  # another's: none
    assert_same(patient, uuid.uuid4())  # missing: none
    assert_same(other_patient, theirs.public_id)
    with transaction.atomic():
        found = prescription_locked_visible(patient, mine.public_id)
    assert found is not None and found.patient.address_line1 == patient.patient.address_line1


def test_a_physician_reads_through_the_queryset(physician, patient):
    mine = prescription_for(patient, physician)
    with transaction.atomic():
        built = locked_visible_queryset(physician.user, mine.public_id).first()
        assert loaded(prescription_locked_visible(physician.user, mine.public_id)) == loaded(built)


def test_a_malformed_id_is_refused_as_the_orm_refuses_it(patient):
    with transaction.atomic(), pytest.raises(ValidationError):
        prescription_locked_visible(patient, "not-a-uuid")

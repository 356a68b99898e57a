"""The 503A order a pharmacy receives: every field the pharmacy needs, from the
prescription as signed, the order's own ship-to snapshot and the patient's latest intake
(allergies: "none known" differs from "never asked")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import IntakeStatus
from prescriptions.selectors.pharmacy_order import pharmacy_order_payload
from tests.patients.support import intake_for
from tests.prescriptions.support_pharmacy import new_order

pytestmark = pytest.mark.django_db


def test_the_payload_carries_every_503a_field(patient, physician):
    order = new_order(patient, physician)
    payload = pharmacy_order_payload(order.submission)
    rx = order.prescription
    assert payload["idempotency_key"] == str(order.submission.idempotency_key)
    assert payload["order"] | {"created_at": None} == {
        "number": order.number,
        "kind": "first_fill",
        "fill_number": 0,
        "replaces": None,
        "created_at": None,
    }
    assert payload["prescription"] == {
        "id": str(rx.public_id),
        "drug": "Ketamine HCl",
        "strength": "100 mg",
        "dosage_form": "rapid_dissolve_tablet",
        "route": "sublingual",
        "formulation": "Ketamine HCl 100 mg Rapid Dissolve Tablet",
        "schedule": "III",
        "quantity": 10,
        "quantity_unit": "tablet",
        "quantity_words": "ten",
        "directions": rx.directions,
        "dose_per_session_mg": "200.00",
        "max_per_session_mg": "200.00",
        "min_hours_between_sessions": 72,
        "planned_sessions": 5,
        "days_supply": 28,
        "refills": 2,
        "issued_on": rx.issued_on.isoformat(),
        "expires_on": rx.expires_on.isoformat(),
    }
    record = patient.patient
    assert payload["patient"]["name"] == rx.patient_name
    assert payload["patient"]["date_of_birth"] == record.date_of_birth.isoformat()
    assert payload["patient"]["phone"] == record.phone
    ship_to = payload["ship_to"]
    assert (ship_to["line1"], ship_to["city"], ship_to["state"], ship_to["zip_code"]) == (
        order.ship_to_line1,
        order.ship_to_city,
        "FL",
        order.ship_to_zip,
    )
    assert ship_to["adult_signature_required"] is True
    assert payload["prescriber"] == {
        "name": rx.prescriber_name,
        "address": rx.prescriber_address,
        "npi": physician.npi,
        "dea_number": rx.prescriber_dea_number,
        "nj_cds_number": None,
    }


def test_allergies_never_asked_are_null_not_none_known(patient, physician):
    order = new_order(patient, physician)
    patient_part = pharmacy_order_payload(order.submission)["patient"]
    assert (patient_part["allergies"], patient_part["allergies_recorded"]) == (None, False)


def test_allergies_come_from_the_latest_submitted_intake(patient, physician):
    earlier = timezone.now() - timedelta(days=40)
    intake_for(patient.patient, answers={"allergies": ["penicillin"]}, submitted_at=earlier)
    intake_for(
        patient.patient,
        status=IntakeStatus.DRAFT,
        answers={"allergies": ["draft only"]},
    )
    order = new_order(patient, physician)
    assert pharmacy_order_payload(order.submission)["patient"]["allergies"] == ["penicillin"]


def test_none_known_is_an_empty_list(patient, physician):
    intake_for(patient.patient, answers={"allergies": []}, submitted_at=timezone.now())
    order = new_order(patient, physician)
    patient_part = pharmacy_order_payload(order.submission)["patient"]
    assert (patient_part["allergies"], patient_part["allergies_recorded"]) == ([], True)

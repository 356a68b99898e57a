"""The order a compounding pharmacy receives (503A: patient-specific), built only when it
is sent (prescriptions.services.submission) and never stored, logged or put in a task's
arguments: it is PHI from end to end.

It carries the prescription as signed (drug, strength, dosage form, route, quantity in
units and words, directions, dose and maximum per session, minimum hours between
sessions, planned sessions, days' supply, refills, issue and expiry dates), the patient
(name as signed, date of birth, phone, allergies), where to ship (the order's own
snapshot), the prescriber as at signing (name, address, NPI, DEA, NJ CDS), and the order
itself (number, kind, fill number, idempotency key).

Allergies come from the patient's latest submitted intake (`allergies`: a list of free
text entries, [] meaning none known). A patient without one has `allergies: null` and
`allergies_recorded: false`: the pharmacy sees that nothing was asked, not "none".
"""

from __future__ import annotations

from typing import Any

from patients.models import Intake, IntakeStatus, Patient
from patients.selectors.intake import intake_answers
from prescriptions.models import DeliveryOrder, PharmacySubmission

PAYLOAD_VERSION = "2026-12-1"
ANSWERED_INTAKE_STATUSES = (
    IntakeStatus.SUBMITTED,
    IntakeStatus.INFO_REQUESTED,
    IntakeStatus.APPROVED,
    IntakeStatus.DECLINED,
)


def patient_allergies(patient: Patient) -> list[str] | None:
    """The allergies of the latest submitted intake; None when none was ever answered."""
    intake = (
        Intake.objects.filter(patient=patient, status__in=ANSWERED_INTAKE_STATUSES)
        .order_by("-submitted_at", "-pk")
        .first()
    )
    if intake is None:
        return None
    allergies = intake_answers(intake).get("allergies")
    if not isinstance(allergies, list):
        return None
    return [str(entry) for entry in allergies if entry]


def pharmacy_order_payload(submission: PharmacySubmission) -> dict[str, Any]:
    """The JSON document for the pharmacy (module docstring)."""
    order: DeliveryOrder = (
        DeliveryOrder.objects.select_related("prescription__medication", "patient", "replaces")
        .filter(pk=submission.order_id)
        .get()
    )
    rx, patient = order.prescription, order.patient
    allergies = patient_allergies(patient)
    return {
        "version": PAYLOAD_VERSION,
        "idempotency_key": str(submission.idempotency_key),
        "order": {
            "number": order.number,
            "kind": order.kind,
            "fill_number": order.fill_number,
            "replaces": order.replaces.number if order.replaces_id and order.replaces else None,
            "created_at": order.created_at.isoformat(),
        },
        "prescription": {
            "id": str(rx.public_id),
            "drug": rx.drug_name,
            "strength": rx.strength,
            "dosage_form": rx.dosage_form,
            "route": rx.route,
            # Not str(medication): Decimal.normalize() writes 100 as "1E+2".
            "formulation": f"{rx.drug_name} {rx.strength} {rx.get_dosage_form_display()}",
            "schedule": rx.medication.schedule,
            "quantity": rx.quantity,
            "quantity_unit": rx.medication.unit,
            "quantity_words": rx.quantity_words,
            "directions": rx.directions,
            "dose_per_session_mg": str(rx.dose_per_session_mg),
            "max_per_session_mg": str(rx.max_per_session_mg),
            "min_hours_between_sessions": rx.min_hours_between_sessions,
            "planned_sessions": rx.planned_sessions,
            "days_supply": rx.days_supply,
            "refills": rx.refills,
            "issued_on": rx.issued_on.isoformat(),
            "expires_on": rx.expires_on.isoformat(),
        },
        "patient": {
            "name": rx.patient_name,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
            "phone": patient.phone,
            "allergies": allergies,
            "allergies_recorded": allergies is not None,
        },
        "ship_to": {**order.ship_to, "adult_signature_required": True},
        "prescriber": {
            "name": rx.prescriber_name,
            "address": rx.prescriber_address,
            "npi": rx.prescriber_npi,
            "dea_number": rx.prescriber_dea_number,
            "nj_cds_number": rx.prescriber_cds_number or None,
        },
    }

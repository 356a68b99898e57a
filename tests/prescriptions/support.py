"""What the prescriptions tests share: the catalog, and a signed prescription with its
protocol, prescribing visit and PDMP check stored directly (signing has its own tests)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from core.clock import practice_today
from prescriptions.models import (
    Carrier,
    DosageForm,
    DosingProtocol,
    Medication,
    PdmpCheck,
    Pharmacy,
    Prescription,
    ProtocolKind,
    Route,
)
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus


def medication(strength_mg: str = "100") -> Medication:
    item, _ = Medication.objects.get_or_create(
        name="Ketamine HCl",
        dosage_form=DosageForm.RAPID_DISSOLVE_TABLET,
        strength_mg=Decimal(strength_mg),
        defaults={"route": Route.SUBLINGUAL, "unit": "tablet"},
    )
    return item


def pharmacy(
    *, ships_to: tuple[str, ...] = ("FL", "NJ"), npi: str = "1679576722", **fields: Any
) -> Pharmacy:
    item, _ = Pharmacy.objects.get_or_create(
        npi=npi,
        defaults={
            "name": "Partner Compounding",
            "dea_number": "FP1234563",
            "ships_to": list(ships_to),
            "webhook_secret": "whsec_pharmacy_test",
            **fields,
        },
    )
    return item


def carrier(code: str = "ups") -> Carrier:
    item, _ = Carrier.objects.get_or_create(
        code=code,
        defaults={
            "name": code.upper(),
            "tracking_url_template": "https://carrier.example/track/{tracking_number}",
            "webhook_secret": f"whsec_{code}_test",
        },
    )
    return item


def protocol_for(patient: User, physician: PhysicianProfile, **fields: Any) -> DosingProtocol:
    values: dict[str, Any] = {
        "kind": ProtocolKind.STANDARD,
        "medication": medication(),
        "starting_dose_mg": Decimal("100"),
        "current_dose_mg": Decimal("100"),
        "titration_step_mg": Decimal("50"),
        "min_days_between_steps": 14,
        "ceiling_dose_mg": Decimal("300"),
        "max_per_session_mg": Decimal("200"),
        "min_hours_between_sessions": 72,
        **fields,
    }
    return DosingProtocol.objects.create(patient=patient.patient, physician=physician, **values)


def completed_visit(
    patient: User, physician: PhysicianProfile, *, days_ago: int = 1, state: str = "FL"
) -> Appointment:
    starts_at = timezone.now() - timedelta(days=days_ago)
    return Appointment.objects.create(
        patient=patient.patient,
        physician=physician,
        kind=AppointmentKind.CHECK_IN,
        status=AppointmentStatus.COMPLETED,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=20),
        blocked_until=starts_at + timedelta(minutes=30),
        booked_by=patient,
        started_at=starts_at,
        completed_at=starts_at + timedelta(minutes=20),
        confirmed_state=state,
        video_visit=True,
        standard_of_care_attested=True,
    )


def pdmp_check_for(
    patient: User, physician: PhysicianProfile, *, on: date | None = None
) -> PdmpCheck:
    return PdmpCheck.objects.create(
        patient=patient.patient,
        program=patient.patient.state,
        checked_by=physician.user,
        checked_on=on or practice_today(),
        reference="EF-20261201-0001",
    )


def prescription_for(
    patient: User, physician: PhysicianProfile, *, issued_on: date | None = None, **fields: Any
) -> Prescription:
    """A signed prescription of 10 tablets (5 sessions of 2), 28 days' supply, 2 refills."""
    issued_on = issued_on or practice_today()
    record = patient.patient
    values: dict[str, Any] = {
        "protocol": protocol_for(patient, physician),
        "medication": medication(),
        "visit": completed_visit(patient, physician, state=record.state),
        "pdmp_check": pdmp_check_for(patient, physician, on=issued_on),
        "drug_name": "Ketamine HCl",
        "strength": "100 mg",
        "dosage_form": DosageForm.RAPID_DISSOLVE_TABLET,
        "route": Route.SUBLINGUAL,
        "quantity": 10,
        "quantity_words": "ten",
        "directions": "Dissolve 2 tablets under the tongue per session, at most one session "
        "every 72 hours.",
        "dose_per_session_mg": Decimal("200"),
        "max_per_session_mg": Decimal("200"),
        "min_hours_between_sessions": 72,
        "planned_sessions": 5,
        "days_supply": 28,
        "refills": 2,
        "issued_on": issued_on,
        "expires_on": issued_on + relativedelta(months=6),
        "patient_name": f"{record.legal_first_name} {record.legal_last_name}",
        "patient_address": f"{record.address_line1}, {record.city}, "
        f"{record.state} {record.zip_code}",
        "patient_state": record.state,
        "prescriber_name": str(physician),
        "prescriber_address": physician.practice_address or "1 Clinic Way, Miami, FL 33101",
        "prescriber_npi": physician.npi,
        "prescriber_dea_number": physician.dea_registrations.get(state=record.state).number,
        "signed_at": timezone.now(),
        **fields,
    }
    return Prescription.objects.create(patient=record, physician=physician, **values)

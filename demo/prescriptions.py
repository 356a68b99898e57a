"""seed_demo's prescriptions part: the compounded ketamine catalog, two partner pharmacies
(one ships to FL and NJ, one to FL only), three carriers, and, with the local pharmacy,
a signed prescription for the demo patient whose first fill `make run` plays to delivered.

Idempotent like the rest of seed_demo: rows are found by their natural keys, and the demo
prescription is made once. Webhook secrets are random per database (nothing known to
sign with); the local pharmacy reads them from the rows.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from audit.models import AuditAction
from audit.services import audit_write
from core.clock import practice_today
from prescriptions.models import (
    Carrier,
    DeliveryOrder,
    DosageForm,
    DosingProtocol,
    EventSource,
    Medication,
    OrderKind,
    PdmpCheck,
    Pharmacy,
    Prescription,
    ProtocolKind,
    Route,
)
from prescriptions.pharmacy.base import is_local_backend
from prescriptions.services.orders import order_create
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus

KETAMINE = "Ketamine HCl"
# (dosage form, route, unit, strengths in mg per unit)
CATALOG = [
    (DosageForm.RAPID_DISSOLVE_TABLET, Route.SUBLINGUAL, "tablet", ("50", "100", "150")),
    (DosageForm.TROCHE, Route.BUCCAL, "troche", ("100", "200")),
    (DosageForm.NASAL_SPRAY, Route.INTRANASAL, "spray", ("10",)),
]
# (name, NPI, DEA number, states it ships to)
PHARMACIES = [
    ("Gulf Coast Compounding (demo)", "1654321094", "FG1234563", ["FL", "NJ"]),
    ("Panhandle Specialty Pharmacy (demo)", "1987654328", "BS7654329", ["FL"]),
]
CARRIERS = [
    ("ups", "UPS", "https://www.ups.com/track?tracknum={tracking_number}"),
    ("fedex", "FedEx", "https://www.fedex.com/fedextrack/?trknbr={tracking_number}"),
    ("usps", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking_number}"),
]


def catalog_seed() -> None:
    for form, route, unit, strengths in CATALOG:
        for strength in strengths:
            Medication.objects.get_or_create(
                name=KETAMINE,
                dosage_form=form,
                strength_mg=Decimal(strength),
                defaults={"route": route, "unit": unit},
            )
    for name, npi, dea, states in PHARMACIES:
        Pharmacy.objects.get_or_create(
            npi=npi,
            defaults={
                "name": name,
                "dea_number": dea,
                "ships_to": states,
                "webhook_secret": "whsec_" + secrets.token_urlsafe(32),
            },
        )
    for code, name, template in CARRIERS:
        Carrier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "tracking_url_template": template,
                "webhook_secret": "whsec_" + secrets.token_urlsafe(32),
            },
        )


def demo_order_seed(*, patient_user: User, physician: PhysicianProfile) -> str:
    """A signed prescription (stored as rows: the demo patient has no approved intake,
    consents or PDMP record, which signing asks for) and its first fill, made through
    order_create so that the hand-off to the local pharmacy is queued as for any order."""
    patient = patient_user.patient
    existing = DeliveryOrder.objects.filter(patient=patient).order_by("pk").first()
    if existing is not None:
        return f"order {existing.number}: {existing.status}"
    if not is_local_backend(settings.PHARMACY_BACKEND):
        return "no demo order: PHARMACY_BACKEND is not the local pharmacy"
    tablet = Medication.objects.get(
        name=KETAMINE, dosage_form=DosageForm.RAPID_DISSOLVE_TABLET, strength_mg=Decimal("100")
    )
    protocol = DosingProtocol.objects.filter(patient=patient, ended_at__isnull=True).first()
    if protocol is None:
        protocol = DosingProtocol.objects.create(
            patient=patient,
            physician=physician,
            kind=ProtocolKind.STANDARD,
            medication=tablet,
            starting_dose_mg=Decimal("100"),
            current_dose_mg=Decimal("100"),
            titration_step_mg=Decimal("50"),
            min_days_between_steps=14,
            ceiling_dose_mg=Decimal("300"),
            max_per_session_mg=Decimal("200"),
            min_hours_between_sessions=72,
        )
    today = practice_today()
    started = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
    visit = Appointment.objects.create(
        patient=patient,
        physician=physician,
        kind=AppointmentKind.CHECK_IN,
        status=AppointmentStatus.COMPLETED,
        starts_at=started,
        ends_at=started + dt.timedelta(minutes=20),
        blocked_until=started + dt.timedelta(minutes=30),
        booked_by=patient_user,
        started_at=started,
        completed_at=started + dt.timedelta(minutes=20),
        confirmed_state=patient.state,
        video_visit=True,
        standard_of_care_attested=True,
    )
    pdmp = PdmpCheck.objects.create(
        patient=patient,
        program=patient.state,
        checked_by=physician.user,
        checked_on=today,
        reference="DEMO-PDMP-0001",
    )
    prescription = Prescription.objects.create(
        patient=patient,
        physician=physician,
        protocol=protocol,
        medication=tablet,
        visit=visit,
        pdmp_check=pdmp,
        drug_name=KETAMINE,
        strength="100 mg",
        dosage_form=DosageForm.RAPID_DISSOLVE_TABLET,
        route=Route.SUBLINGUAL,
        quantity=8,
        quantity_words="eight",
        directions="Dissolve 1 tablet under the tongue per session; a second only if "
        "directed, at most 200 mg per session and one session every 72 hours.",
        dose_per_session_mg=Decimal("100"),
        max_per_session_mg=Decimal("200"),
        min_hours_between_sessions=72,
        planned_sessions=8,
        days_supply=28,
        refills=2,
        issued_on=today,
        expires_on=today + relativedelta(months=6),
        patient_name=f"{patient.legal_first_name} {patient.legal_last_name}",
        patient_address=f"{patient.address_line1}, {patient.city}, {patient.state} "
        f"{patient.zip_code}",
        patient_state=patient.state,
        prescriber_name=str(physician),
        prescriber_address=physician.practice_address or "1 Clinic Way, Pensacola, FL 32502",
        prescriber_npi=physician.npi,
        prescriber_dea_number=physician.dea_registrations.get(state=patient.state).number,
        signed_at=timezone.now(),
    )
    audit_write(prescription, actor=None, action=AuditAction.CREATE, detail={"event": "demo_seed"})
    order = order_create(
        prescription=prescription,
        patient=patient,
        kind=OrderKind.FIRST_FILL,
        fill_number=0,
        source=EventSource.SYSTEM,
        actor=None,
    )
    return f"order {order.number}: the local pharmacy plays it to delivered"

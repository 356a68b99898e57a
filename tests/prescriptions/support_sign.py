"""What the signing tests share (h11-sign): a physician and a patient with every signing
precondition met, the signing body, and a fresh TOTP code."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pyotp
from django.apps import apps
from django.utils import timezone

from accounts.models import PhysicianProfile, TotpDevice, User
from patients.models import ConsentKind, IntakeStatus
from patients.selectors.consent import consent_document_current
from patients.services.consent import consent_sign
from prescriptions.models import DosingProtocol
from scheduling.models import Appointment
from tests.billing.support import become_member
from tests.patients.support import intake_for
from tests.prescriptions.support import (
    completed_visit,
    medication,
    pdmp_check_for,
    pharmacy,
    protocol_for,
)

PRACTICE_ADDRESS = "1 Clinic Way, Miami, FL 33101"
SIGN_URL = "/api/prescriptions/prescriptions"


def totp_enrolled(physician: PhysicianProfile) -> TotpDevice:
    device, _ = TotpDevice.objects.get_or_create(
        user=physician.user,
        defaults={"secret": pyotp.random_base32(), "confirmed_at": timezone.now()},
    )
    return device


def totp_code(physician: PhysicianProfile, steps_ahead: int = 0) -> str:
    """A valid code not used yet: the current step, or one ahead for a second signing."""
    device = TotpDevice.objects.get(user=physician.user)
    totp = pyotp.TOTP(device.secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + steps_ahead)


_CONSENTS = importlib.import_module("patients.migrations.0003_consent_documents")
_ACKNOWLEDGEMENT = importlib.import_module(
    "patients.migrations.0009_compounded_medication_acknowledgement"
)


def consent_documents_published() -> None:
    """What the data migrations publish (a transactional test elsewhere may have flushed
    them; publishing is idempotent)."""
    _CONSENTS.publish(apps, None)
    _ACKNOWLEDGEMENT.publish(apps, None)


def sign_consent(user: User, kind: str) -> None:
    consent_documents_published()
    document = consent_document_current(kind)
    assert document is not None, kind
    record = user.patient
    name = f"{record.legal_first_name} {record.legal_last_name}"
    consent_sign(patient=record, document=document, typed_name=name)


def ready_patient(user: User) -> None:
    """Cleared (approved intake, the consents of care), a member, and the compounded
    medication acknowledged."""
    intake_for(
        user.patient, status=IntakeStatus.APPROVED, submitted_at=timezone.now() - timedelta(days=2)
    )
    for kind in (ConsentKind.TREATMENT, ConsentKind.TELEHEALTH, ConsentKind.COMPOUNDED_MEDICATION):
        sign_consent(user, kind)
    become_member(user)


def ready_physician(physician: PhysicianProfile) -> None:
    physician.practice_address = PRACTICE_ADDRESS
    physician.save(update_fields=["practice_address"])
    totp_enrolled(physician)


def ready_to_sign(
    user: User, physician: PhysicianProfile, *, patient_ready: bool = True
) -> tuple[DosingProtocol, Appointment]:
    """Every precondition met: the protocol (100 mg now, max 200, 72 h), a video visit
    yesterday, today's PDMP check, a pharmacy for FL and NJ."""
    if patient_ready:
        ready_patient(user)
    ready_physician(physician)
    pharmacy()
    protocol = protocol_for(user, physician)
    visit = completed_visit(user, physician, state=user.patient.state)
    pdmp_check_for(user, physician)
    return protocol, visit


def sign_body(
    user: User, physician: PhysicianProfile, visit: Appointment, **changes: Any
) -> dict[str, Any]:
    """10 tablets of 100 mg: 10 sessions of one tablet, a month, 2 refills."""
    body: dict[str, Any] = {
        "patient": str(user.patient.public_id),
        "visit": str(visit.public_id),
        "medication": str(medication().public_id),
        "quantity": 10,
        "directions": "Dissolve one tablet under the tongue per session.\n"
        "At most one session every 72 hours.",
        "dose_per_session_mg": "100",
        "max_per_session_mg": "100",
        "min_hours_between_sessions": 72,
        "planned_sessions": 10,
        "days_supply": 30,
        "refills": 2,
        "totp_code": totp_code(physician),
    }
    return body | changes


def refusal(response: Any) -> list[str]:
    body = response.json()["error"]
    assert response.status_code == 409 and body["code"] == "prescription_refused", body
    return list(body["fields"]["reasons"])

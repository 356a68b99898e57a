"""Signing a Schedule III prescription: the happy path and its snapshot, every
precondition failing alone with its reason code, several at once, the shape and protocol
checks (400), and the first-fill order's refusal undoing everything."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.models import CdsRegistration, RecoveryCode, VerificationStatus
from audit.models import AuditEvent
from core.clock import practice_today
from patients.models import ConsentKind, IntakeStatus
from prescriptions.models import (
    DeliveryOrder,
    DosingProtocol,
    OrderKind,
    PdmpCheck,
    Pharmacy,
    Prescription,
)
from scheduling.models import Appointment
from tests.actors import client_for
from tests.billing.support import become_member
from tests.patients.support import intake_for
from tests.prescriptions.support import completed_visit, medication
from tests.prescriptions.support_sign import (
    SIGN_URL,
    ready_to_sign,
    refusal,
    sign_body,
    sign_consent,
    totp_code,
)

pytestmark = pytest.mark.django_db


def _sign(physician, body):
    return client_for(physician.user).post(SIGN_URL, body, format="json")


def test_signing_writes_the_prescription_its_snapshot_and_the_first_order(patient, physician):
    _, visit = ready_to_sign(patient, physician)
    response = _sign(physician, sign_body(patient, physician, visit))
    assert response.status_code == 201, response.content
    body = response.json()
    today = practice_today()
    record = patient.patient
    assert body["quantity"] == 10 and body["quantity_words"] == "ten"
    assert body["strength"] == "100 mg" and body["drug_name"] == "Ketamine HCl"
    assert body["issued_on"] == today.isoformat()
    prescription = Prescription.objects.get(public_id=body["id"])
    assert prescription.expires_on == today + relativedelta(months=6)
    assert prescription.patient_name == f"{record.legal_first_name} {record.legal_last_name}"
    assert record.address_line1 in prescription.patient_address
    assert prescription.prescriber_dea_number == physician.dea_registrations.get(state="FL").number
    assert prescription.prescriber_cds_number == ""  # FL has no CDS registration
    assert prescription.prescriber_npi == physician.npi
    assert prescription.visit == visit
    assert body["refills_remaining"] == 2
    [order] = body["orders"]
    assert order["kind"] == OrderKind.FIRST_FILL and order["fill_number"] == 0
    assert order["number"].startswith("KD-") and order["status"] == "created"
    assert AuditEvent.objects.filter(
        object_id=str(prescription.public_id), action="create"
    ).exists()


def test_a_new_jersey_prescription_carries_the_cds_number(other_patient, physician):
    _, visit = ready_to_sign(other_patient, physician)
    response = _sign(physician, sign_body(other_patient, physician, visit))
    assert response.status_code == 201, response.content
    assert response.json()["prescriber_cds_number"] == "CDS-1"
    assert response.json()["patient_state"] == "NJ"


# --- each precondition alone --------------------------------------------------------------


def _expire(queryset):
    queryset.update(expires_on=practice_today() - timedelta(days=1))


@pytest.mark.parametrize(
    ("breaks", "reason"),
    [
        (lambda p, d, v: {"totp_code": "000000"}, "totp_invalid"),
        (lambda p, d, v: _expire(d.dea_registrations.filter(state="FL")), "dea_expired"),
        (
            lambda p, d, v: d.dea_registrations.update(
                verification=VerificationStatus.NEEDS_MANUAL_VERIFICATION
            ),
            "dea_not_verified",
        ),
        (lambda p, d, v: d.dea_registrations.update(schedules=["II"]), "dea_lacks_schedule_iii"),
        (lambda p, d, v: PdmpCheck.objects.all().delete(), "pdmp_check_missing"),
        (
            lambda p, d, v: PdmpCheck.objects.update(checked_on=practice_today() - timedelta(1)),
            "pdmp_check_missing",
        ),
        (
            lambda p, d, v: Appointment.objects.filter(pk=v.pk).update(
                completed_at=timezone.now() - timedelta(days=31)
            ),
            "prescribing_visit_missing",
        ),
        (
            lambda p, d, v: Appointment.objects.filter(pk=v.pk).update(video_visit=False),
            "prescribing_visit_missing",
        ),
        (
            lambda p, d, v: Appointment.objects.filter(pk=v.pk).update(confirmed_state="GA"),
            "prescribing_visit_missing",
        ),
        (
            lambda p, d, v: DosingProtocol.objects.update(ended_at=timezone.now()),
            "no_current_protocol",
        ),
        (
            lambda p, d, v: type(d).objects.filter(pk=d.pk).update(practice_address=""),
            "prescriber_address_missing",
        ),
        (
            # A Florida patient who said at the visit they were in New Jersey.
            lambda p, d, v: type(v).objects.filter(pk=v.pk).update(confirmed_state="NJ"),
            "visit_state_not_home_state",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_each_physician_side_precondition_alone(patient, physician, breaks, reason):
    _, visit = ready_to_sign(patient, physician)
    changes = breaks(patient, physician, visit) or {}
    if not isinstance(changes, dict):
        changes = {}
    response = _sign(physician, sign_body(patient, physician, visit, **changes))
    assert refusal(response) == [reason]
    assert not Prescription.objects.exists() and not DeliveryOrder.objects.exists()


def test_a_visit_with_another_physician_is_not_the_prescribing_visit(
    patient, physician, physician_licensed_elsewhere
):
    _, _ = ready_to_sign(patient, physician)
    theirs = completed_visit(patient, physician_licensed_elsewhere)
    response = _sign(physician, sign_body(patient, physician, theirs))
    assert refusal(response) == ["prescribing_visit_missing"]


def test_new_jersey_needs_a_current_cds_registration(other_patient, physician):
    _, visit = ready_to_sign(other_patient, physician)
    _expire(CdsRegistration.objects.filter(physician=physician))
    assert refusal(_sign(physician, sign_body(other_patient, physician, visit))) == [
        "cds_not_current"
    ]
    CdsRegistration.objects.filter(physician=physician).delete()
    body = sign_body(other_patient, physician, visit, totp_code=totp_code(physician, 1))
    assert refusal(_sign(physician, body)) == ["no_cds_registration"]


def test_a_recovery_code_does_not_sign_and_is_not_spent(patient, physician):
    from accounts.services.mfa import _recovery_digest

    _, visit = ready_to_sign(patient, physician)
    RecoveryCode.objects.create(user=physician.user, code_hash=_recovery_digest("ABCDE12345"))
    response = _sign(physician, sign_body(patient, physician, visit, totp_code="ABCDE12345"))
    assert refusal(response) == ["totp_invalid"]
    assert RecoveryCode.objects.get().used_at is None
    assert AuditEvent.objects.filter(action="mfa_failed", actor=physician.user).exists()


def _patient_without(patient, missing):
    """A patient ready in every way but `missing`."""
    if missing != "intake":
        intake_for(
            patient.patient,
            status=IntakeStatus.APPROVED,
            submitted_at=timezone.now() - timedelta(days=2),
        )
    kinds = {
        "treatment": ConsentKind.TREATMENT,
        "telehealth": ConsentKind.TELEHEALTH,
        "compounded": ConsentKind.COMPOUNDED_MEDICATION,
    }
    for name, kind in kinds.items():
        if name != missing:
            sign_consent(patient, kind)
    if missing != "membership":
        become_member(patient)


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("intake", "no_approved_intake"),
        ("treatment", "consent_outstanding:treatment"),
        ("membership", "membership_required"),
        ("compounded", "compounded_acknowledgement_missing"),
    ],
)
def test_each_patient_side_precondition_alone(patient, physician, missing, reason):
    _patient_without(patient, missing)
    _, visit = ready_to_sign(patient, physician, patient_ready=False)
    assert refusal(_sign(physician, sign_body(patient, physician, visit))) == [reason]


def test_no_published_acknowledgement_counts_as_missing(patient, physician):
    from patients.models import ConsentDocument

    _, visit = ready_to_sign(patient, physician)
    ConsentDocument.objects.filter(kind=ConsentKind.COMPOUNDED_MEDICATION).update(
        published_at=timezone.now() + timedelta(days=1)
    )
    reasons = refusal(_sign(physician, sign_body(patient, physician, visit)))
    assert reasons == ["compounded_acknowledgement_missing"]


def test_license_reasons_come_from_physician_authority(patient, physician):
    """Through the API an unlicensed physician cannot see the patient (404); the service
    still lists the authority's reasons as they are."""
    from accounts.selectors import physician_with_credentials
    from prescriptions.selectors.prescribing import signing_refusals

    protocol, visit = ready_to_sign(patient, physician)
    physician.licenses.filter(state="FL").delete()
    check = signing_refusals(
        physician=physician_with_credentials(physician.user.pk),
        patient=patient.patient,
        visit_id=visit.public_id,
        protocol=protocol,
    )
    assert check.reasons == ["no_license_in_state", "prescribing_visit_missing"]
    response = _sign(physician, sign_body(patient, physician, visit))
    assert response.status_code == 404


def test_every_failure_is_listed_at_once(patient, physician):
    _patient_without(patient, "membership")
    _, visit = ready_to_sign(patient, physician, patient_ready=False)
    PdmpCheck.objects.all().delete()
    physician.dea_registrations.update(schedules=["II"])
    body = sign_body(patient, physician, visit, totp_code="123456")
    assert refusal(_sign(physician, body)) == [
        "totp_invalid",
        "dea_lacks_schedule_iii",
        "pdmp_check_missing",
        "membership_required",
    ]


# --- the shape and the protocol (400) -----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"dose_per_session_mg": "200", "max_per_session_mg": "200", "quantity": 20},
            "dose_per_session_mg",
        ),
        ({"max_per_session_mg": "300"}, "max_per_session_mg"),
        ({"min_hours_between_sessions": 48}, "min_hours_between_sessions"),
        ({"quantity": 12}, "quantity"),
        ({"dose_per_session_mg": "50"}, "dose_per_session_mg"),
        ({"dose_per_session_mg": "100", "max_per_session_mg": "50"}, "dose_per_session_mg"),
        ({"refills": 6}, "refills"),
        # 10 sessions at least 72 hours apart last 27 days: a shorter supply is refused.
        ({"days_supply": 26}, "days_supply"),
        ({"directions": "bad\x00text"}, "directions"),
    ],
)
def test_shape_and_protocol_errors_are_400_with_the_field(patient, physician, changes, field):
    _, visit = ready_to_sign(patient, physician)
    response = _sign(physician, sign_body(patient, physician, visit, **changes))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_a_formulation_outside_the_protocol_is_400(patient, physician):
    from prescriptions.models import DosageForm, Medication, Route

    _, visit = ready_to_sign(patient, physician)
    spray = Medication.objects.create(
        name="Ketamine HCl",
        dosage_form=DosageForm.NASAL_SPRAY,
        route=Route.INTRANASAL,
        strength_mg=Decimal("10"),
        unit="spray",
    )
    body = sign_body(patient, physician, visit, medication=str(spray.public_id), quantity=100)
    response = _sign(physician, body)
    assert response.status_code == 400
    assert "medication" in response.json()["error"]["fields"]


def test_a_smaller_strength_of_the_same_form_is_whole_units(patient, physician):
    _, visit = ready_to_sign(patient, physician)
    fifty = medication("50")
    body = sign_body(patient, physician, visit, medication=str(fifty.public_id), quantity=20)
    response = _sign(physician, body)
    assert response.status_code == 201, response.content
    assert response.json()["quantity_words"] == "twenty"


# --- who, and nothing half-written ------------------------------------------------------


def test_only_physicians_sign_and_only_for_patients_they_may_see(
    patient, physician, physician_licensed_elsewhere
):
    _, visit = ready_to_sign(patient, physician)
    body = sign_body(patient, physician, visit)
    assert client_for(patient).post(SIGN_URL, body, format="json").status_code == 403
    assert _sign(physician_licensed_elsewhere, body).status_code == 404


def test_the_first_order_refusing_undoes_the_signing(patient, physician):
    _, visit = ready_to_sign(patient, physician)
    Pharmacy.objects.update(active=False)
    response = _sign(physician, sign_body(patient, physician, visit))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_pharmacy_for_state"
    assert not Prescription.objects.exists() and not DeliveryOrder.objects.exists()

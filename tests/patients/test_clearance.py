"""The clinical clearance: every reason appears while its condition holds and disappears
once it is fixed; the endpoint and who may ask it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from patients.clearance import Clearance, patient_clearance
from patients.models import ConsentDocument, ConsentKind, Intake, IntakeStatus, SafetyFlag
from patients.selectors.consent import (
    clinical_consents_outstanding,
    consent_document_current,
    consents_outstanding,
)
from patients.selectors.measurement import questionnaire_schedule
from patients.selectors.review import intake_approved, open_safety_flags
from patients.services.consent import body_sha256, consent_required, consent_sign
from patients.services.measurement import questionnaire_submit
from tests.actors import client_for

pytestmark = pytest.mark.django_db

# The patient actor is on Central time. Intake on 2 March 2027: questionnaires due on
# 30 March, overdue past the 7-day grace from 7 April (local midnight = 05:00 UTC, CDT).
INTAKE_AT = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
LAST_DAY_OF_GRACE = datetime(2027, 4, 7, 4, 59, tzinfo=UTC)  # 23:59 on 6 April
PAST_GRACE = datetime(2027, 4, 7, 5, 0, tzinfo=UTC)
# Only the treatment and telehealth consents are conditions of care.
ALL_CONSENTS = ["consent_outstanding:treatment", "consent_outstanding:telehealth"]


def approve_intake(record, *, at=INTAKE_AT):
    return Intake.objects.create(
        patient=record,
        questionnaire_version="test",
        status=IntakeStatus.APPROVED,
        answers={"phq9": [1] * 9, "gad7": [1] * 7},
        created_at=at,
        submitted_at=at,
        decided_at=at,
    )


def sign(record, kind):
    document = consent_document_current(kind)
    assert document is not None
    consent_sign(
        patient=record,
        document=document,
        typed_name=f"{record.legal_first_name} {record.legal_last_name}",
        sms_categories=["care"] if kind == ConsentKind.SMS else None,
    )


def sign_all(record):
    for kind in ConsentKind.values:
        sign(record, kind)


def reasons(record) -> list[str]:
    clearance = patient_clearance(record)
    assert clearance.allowed is (not clearance.reasons)
    assert clearance.reasons == reasons_one_by_one(record)
    return clearance.reasons


def reasons_one_by_one(record) -> list[str]:
    """The same reasons asked of each selector on its own (the one query must agree)."""
    found = [] if intake_approved(record) else ["no_approved_intake"]
    found += [f"consent_outstanding:{kind}" for kind in clinical_consents_outstanding(record)]
    found += ["safety_flag_open"] if open_safety_flags(record).exists() else []
    overdue = [i.instrument for i in questionnaire_schedule(record) if i.overdue_past_grace]
    return found + [f"questionnaire_overdue:{instrument}" for instrument in overdue]


def test_a_new_patient_is_not_cleared_and_hears_every_reason(patient):
    clearance = patient_clearance(patient.patient)

    assert clearance == Clearance(allowed=False, reasons=["no_approved_intake", *ALL_CONSENTS])


def test_every_reason_appears_and_disappears_as_it_is_fixed(patient):
    record = patient.patient
    assert reasons(record) == ["no_approved_intake", *ALL_CONSENTS]

    # Intake: submitted is not enough; approved is.
    submitted = Intake.objects.create(
        patient=record,
        questionnaire_version="test",
        status=IntakeStatus.SUBMITTED,
        answers={"phq9": [1] * 9, "gad7": [1] * 7},
        created_at=INTAKE_AT,
        submitted_at=INTAKE_AT,
    )
    assert "no_approved_intake" in reasons(record)
    submitted.status = IntakeStatus.APPROVED
    submitted.save()
    assert reasons(record) == ALL_CONSENTS

    # Consents, one kind at a time: the privacy notice and SMS consent never block care.
    outstanding = list(ALL_CONSENTS)
    for kind in (ConsentKind.PRIVACY, ConsentKind.SMS):
        sign(record, kind)
        assert reasons(record) == outstanding
    for kind in (ConsentKind.TREATMENT, ConsentKind.TELEHEALTH):
        sign(record, kind)
        outstanding.remove(f"consent_outstanding:{kind}")
        assert reasons(record) == outstanding
    assert patient_clearance(record) == Clearance(allowed=True, reasons=[])

    # A self-harm answer opens a safety flag; a physician resolving it clears it.
    with time_machine.travel(datetime(2027, 3, 20, 15, 0, tzinfo=UTC), tick=False):
        questionnaire_submit(patient=record, instrument="phq9", answers=[0] * 8 + [1])
        assert reasons(record) == ["safety_flag_open"]
    flag = SafetyFlag.objects.get(patient=record)
    flag.resolved_at = timezone.now()
    flag.save()
    assert reasons(record) == []

    # Questionnaires: GAD-7 (from the intake) falls overdue past the grace; PHQ-9 was
    # answered on 20 March so is not overdue until 24 April.
    with time_machine.travel(LAST_DAY_OF_GRACE, tick=False):
        assert reasons(record) == []
    with time_machine.travel(PAST_GRACE, tick=False):
        assert reasons(record) == ["questionnaire_overdue:gad7"]
        questionnaire_submit(patient=record, instrument="gad7", answers=[0] * 7)
        assert reasons(record) == []
    with time_machine.travel(datetime(2027, 4, 25, 5, 0, tzinfo=UTC), tick=False):
        assert reasons(record) == ["questionnaire_overdue:phq9"]


def test_both_questionnaires_overdue_and_each_answered_in_turn(patient):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    with time_machine.travel(PAST_GRACE, tick=False):
        assert reasons(record) == ["questionnaire_overdue:phq9", "questionnaire_overdue:gad7"]
        questionnaire_submit(patient=record, instrument="phq9", answers=[0] * 9)
        assert reasons(record) == ["questionnaire_overdue:gad7"]
        questionnaire_submit(patient=record, instrument="gad7", answers=[0] * 7)
        assert reasons(record) == []


def test_the_grace_is_a_setting(patient, settings):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    settings.QUESTIONNAIRE_GRACE_DAYS = 0
    with time_machine.travel(datetime(2027, 3, 30, 5, 0, tzinfo=UTC), tick=False):
        assert reasons(record) == []  # due today, not yet overdue
    with time_machine.travel(datetime(2027, 3, 31, 5, 0, tzinfo=UTC), tick=False):
        assert reasons(record) == ["questionnaire_overdue:phq9", "questionnaire_overdue:gad7"]


def test_a_new_intake_after_approval_withdraws_clearance_until_approved(patient):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    assert reasons(record) == []

    with time_machine.travel(datetime(2027, 3, 10, 15, 0, tzinfo=UTC), tick=False):
        renewal = Intake.objects.create(
            patient=record, questionnaire_version="test", status=IntakeStatus.DRAFT
        )
        assert reasons(record) == ["no_approved_intake"]
        renewal.status = IntakeStatus.APPROVED
        renewal.save()
        assert reasons(record) == []


def test_a_declined_intake_is_not_cleared(patient):
    record = patient.patient
    intake = approve_intake(record)
    intake.status = IntakeStatus.DECLINED
    intake.save()
    sign_all(record)
    assert reasons(record) == ["no_approved_intake"]


def test_a_new_consent_version_needs_signing_again(patient):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    body = "Consent to telehealth, revised."
    ConsentDocument.objects.create(
        kind=ConsentKind.TELEHEALTH,
        version="2099-01",
        title="Consent to telehealth",
        body=body,
        body_sha256=body_sha256(body),
    )
    assert reasons(record) == ["consent_outstanding:telehealth"]

    sign(record, ConsentKind.TELEHEALTH)
    assert reasons(record) == []


def test_privacy_notice_and_sms_consent_are_never_a_condition_of_care(patient):
    record = patient.patient
    approve_intake(record)
    sign(record, ConsentKind.TREATMENT)
    sign(record, ConsentKind.TELEHEALTH)
    # Unsigned privacy notice, SMS consent and acknowledgement (listed for prompting): cleared.
    assert consents_outstanding(record) == ["sms", "privacy", "compounded_medication"]
    assert patient_clearance(record) == Clearance(allowed=True, reasons=[])
    consent_required(record)  # no error

    body = "Notice of privacy practices, revised."
    ConsentDocument.objects.create(
        kind=ConsentKind.PRIVACY,
        version="2099-01",
        title="Notice of privacy practices",
        body=body,
        body_sha256=body_sha256(body),
    )
    assert patient_clearance(record).allowed is True


def test_every_open_flag_counts(patient):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    for item9 in (2, 1):  # two different responses (an identical one is a duplicate)
        questionnaire_submit(patient=record, instrument="phq9", answers=[0] * 8 + [item9])
    first, second = SafetyFlag.objects.order_by("pk")
    first.resolved_at = timezone.now()
    first.save()
    assert reasons(record) == ["safety_flag_open"]
    second.resolved_at = timezone.now()
    second.save()
    assert reasons(record) == []


def test_clearance_takes_a_fixed_number_of_queries(patient, django_assert_max_num_queries):
    record = patient.patient
    approve_intake(record)
    sign_all(record)
    with django_assert_max_num_queries(1):
        patient_clearance(record)


# --- the endpoint --------------------------------------------------------------------------


def test_the_patient_sees_their_clearance(patient):
    response = client_for(patient).get(f"/api/patients/{patient.patient.public_id}/clearance")

    assert response.status_code == 200
    assert response.json() == {"allowed": False, "reasons": ["no_approved_intake", *ALL_CONSENTS]}
    assert AuditEvent.objects.filter(
        action="read", object_type="patients.clearance", patient_id=patient.patient.public_id
    ).exists()


def test_a_licensed_physician_sees_a_cleared_patient(patient, physician):
    approve_intake(patient.patient)
    sign_all(patient.patient)
    url = f"/api/patients/{patient.patient.public_id}/clearance"

    response = client_for(physician.user).get(url)

    assert response.status_code == 200
    assert response.json() == {"allowed": True, "reasons": []}


def test_unknown_patient_clearance_is_404(physician):
    url = f"/api/patients/{uuid.uuid4()}/clearance"
    assert client_for(physician.user).get(url).status_code == 404

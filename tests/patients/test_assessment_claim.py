"""Claiming a free assessment: once, by one patient, audited, and an answer of self-harm
becomes a safety flag."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from audit.models import AuditEvent
from notifications.models import Message
from patients.models import Assessment, SafetyFlag
from tests.actors import client_for
from tests.factories import UserFactory
from tests.patients.support import (
    ASSESSMENT_CLAIM_URL,
    PHQ9_MODERATE,
    assessment_post,
    error_fields,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(api):
    return assessment_post(api).json()["claim_token"]


def claim(user, token):
    return client_for(user).post(ASSESSMENT_CLAIM_URL, {"claim_token": token}, format="json")


def test_patient_claims_their_assessment_once(patient, token):
    response = claim(patient, token)
    assert response.status_code == 200, response.json()
    body = response.json()
    assessment = Assessment.objects.get()
    assert body["id"] == str(assessment.public_id)
    assert body["outcome"] == "likely_eligible"
    assert assessment.claimed_by == patient.patient
    assert assessment.claimed_at is not None
    event = AuditEvent.objects.get(object_type="patients.assessment", outcome="success")
    assert (event.action, event.actor, event.patient_id) == (
        "update",
        patient,
        patient.patient.public_id,
    )

    again = claim(patient, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "assessment_already_claimed"
    assert Assessment.objects.get().claimed_at == assessment.claimed_at


def test_someone_elses_claimed_token_is_refused(patient, other_patient, token):
    assert claim(patient, token).status_code == 200
    response = claim(other_patient, token)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "assessment_claimed"
    assert Assessment.objects.get().claimed_by == patient.patient
    denied = AuditEvent.objects.get(object_type="patients.assessment", outcome="denied")
    assert denied.actor == other_patient
    assert denied.detail == {"claimed": False, "reason": "assessment_claimed"}


def test_wrong_token_is_404(patient, token):
    response = claim(patient, token + "x")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "assessment_not_found"
    assert Assessment.objects.get().claimed_by is None
    assert AuditEvent.objects.filter(
        object_type="patients.assessment", outcome="denied", actor=patient
    ).exists()


def test_claim_needs_a_patient_record(token):
    user = UserFactory(role="patient")
    response = claim(user, token)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


def test_claim_input_is_checked(patient):
    client = client_for(patient)
    assert "claim_token" in error_fields(client.post(ASSESSMENT_CLAIM_URL, {}, format="json"))
    long = client.post(ASSESSMENT_CLAIM_URL, {"claim_token": "x" * 500}, format="json")
    assert "claim_token" in error_fields(long)


def test_claiming_an_answer_of_self_harm_opens_a_safety_flag(api, patient, physician):
    token = assessment_post(api, phq9=[*PHQ9_MODERATE[:8], 2]).json()["claim_token"]
    assert not SafetyFlag.objects.exists()  # anonymous: nobody to flag yet
    assert claim(patient, token).status_code == 200
    flag = SafetyFlag.objects.get()
    assessment = Assessment.objects.get()
    assert (flag.patient, flag.kind, flag.source, flag.source_id) == (
        patient.patient,
        "urgent_safety",
        "assessment",
        assessment.public_id,
    )
    assert flag.resolved_at is None
    assert not assessment.urgent_safety  # no plaintext trace left on the claimed row
    alert = Message.objects.get(recipient=physician.user)
    assert alert.template_key == "review_alert"
    assert alert.urgent
    event = AuditEvent.objects.get(action="create", object_type="patients.safetyflag")
    assert event.detail == {"source": "assessment"}


def test_claiming_a_calm_assessment_opens_no_flag(patient, token):
    assert claim(patient, token).status_code == 200
    assert not SafetyFlag.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_link_the_assessment_once(api, patient, other_patient):
    token = assessment_post(api).json()["claim_token"]
    start = threading.Barrier(2)
    codes: list[int] = []

    def attempt(user) -> None:
        try:
            start.wait()
            codes.append(claim(user, token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in (patient, other_patient)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409]
    assert Assessment.objects.filter(claimed_by__isnull=False).count() == 1


def test_only_patients_claim(api, physician, ops_admin, token):
    assert api.post(ASSESSMENT_CLAIM_URL, {"claim_token": token}, format="json").status_code == 401
    assert claim(physician.user, token).status_code == 403
    assert claim(ops_admin, token).status_code == 403
    assert Assessment.objects.get().claimed_by is None

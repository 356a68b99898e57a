"""Helpers shared by the patients tests (never imported from another test_*.py file)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime
from typing import Any

from rest_framework.test import APIClient

from accounts.models import User
from notifications.services import inbound_sms_receive
from patients.assessment_questions import HARD_STOP_CONDITIONS
from patients.models import Intake, IntakeStatus, Patient
from patients.screening import CONDITIONS, MEDICATION_CLASSES
from patients.services.intake import intake_save_draft, intake_submit
from tests.actors import client_for


def complete_intake_answers(**overrides: Any) -> dict[str, Any]:
    """A complete intake: an adult with moderate depression and nothing else (eligible)."""
    answers: dict[str, Any] = {
        "medical_history": dict.fromkeys(CONDITIONS, False),
        "medications": {
            "classes": dict.fromkeys(MEDICATION_CLASSES, False),
            "other": ["sertraline 50 mg daily"],
        },
        "allergies": ["penicillin"],
        "pregnant_or_breastfeeding": False,
        "audit_c": [1, 0, 0],
        "dast10": [False, False, True, False, False, False, False, False, False, False],
        "vitals": {"systolic": 118, "diastolic": 76, "height_cm": 170, "weight_kg": 68.5},
        "phq9": [2, 2, 1, 1, 1, 2, 1, 2, 0],  # 12: moderate
        "gad7": [1, 1, 1, 1, 1, 1, 0],  # 6: mild
        "cssrs": {"items": [False] * 6, "lifetime_behavior": False},
    }
    answers.update(copy.deepcopy(overrides))
    return answers


def with_condition(code: str) -> dict[str, Any]:
    return complete_intake_answers(medical_history=dict.fromkeys(CONDITIONS, False) | {code: True})


def submitted_intake(patient_user: Any, answers: dict[str, Any] | None = None) -> Intake:
    """Save and submit through the services (no HTTP): for tests that need many intakes."""
    patient = patient_user.patient
    intake_save_draft(patient=patient, answers=answers or complete_intake_answers())
    return intake_submit(patient=patient)


# --- measurement: an intake in care and questionnaires over the API ----------------------

# The `patient` actor lives in Escambia County, FL: Central time. 15:00 UTC on 2 March 2027
# is 09:00 there (CST); daylight saving starts 14 March, so 30 March starts at 05:00 UTC.
INTAKE_AT = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
DUE_ON = date(2027, 3, 30)
LAST_MINUTE_BEFORE_DUE = datetime(2027, 3, 30, 4, 59, tzinfo=UTC)  # 23:59 on the 29th
FIRST_MINUTE_DUE = datetime(2027, 3, 30, 5, 0, tzinfo=UTC)  # 00:00 on the 30th

PHQ9_MODERATELY_SEVERE = [2, 2, 2, 2, 2, 2, 2, 2, 0]  # 16
GAD7_MODERATE = [2, 2, 2, 2, 1, 1, 1]  # 11


def intake_for(
    patient: Patient,
    *,
    status: str = IntakeStatus.APPROVED,
    submitted_at: datetime | None = INTAKE_AT,
    answers: Any = None,
) -> Intake:
    """An intake stored directly (no screening), approved unless told otherwise."""
    return Intake.objects.create(
        patient=patient,
        questionnaire_version="test",
        status=status,
        answers=answers
        if answers is not None
        else {"phq9": PHQ9_MODERATELY_SEVERE, "gad7": GAD7_MODERATE},
        submitted_at=submitted_at,
        created_at=submitted_at or INTAKE_AT,
    )


def questionnaire_post(user: User, instrument: str, answers: Any) -> Any:
    return client_for(user).post(
        "/api/questionnaires", {"instrument": instrument, "answers": answers}, format="json"
    )


PATIENT_PHONE = "+13055550123"


def sms_from_patient_phone(body: str) -> str | None:
    """A text from PATIENT_PHONE, through the inbound SMS handlers."""
    return inbound_sms_receive(
        provider_message_id="SM" + uuid.uuid4().hex, from_phone=PATIENT_PHONE, body=body
    )


# --- the free assessment over the API ----------------------------------------------------

ASSESSMENTS_URL = "/api/assessments"
ASSESSMENT_CLAIM_URL = "/api/assessments/claim"
PHQ9_MODERATE = [2, 2, 2, 1, 1, 1, 1, 1, 0]  # 11, item 9 = 0
GAD7_MINIMAL = [1, 1, 1, 0, 0, 0, 0]  # 3


def assessment_body(**changes: Any) -> dict[str, Any]:
    """A complete free assessment: an adult in Florida, likely eligible, with `changes`."""
    base = {
        "state": "FL",
        "date_of_birth": "1988-04-02",
        "conditions": dict.fromkeys(HARD_STOP_CONDITIONS, False),
        "pregnant_or_breastfeeding": False,
        "suicidal_intent_or_plan": False,
        "phq9": PHQ9_MODERATE,
        "gad7": GAD7_MINIMAL,
    }
    return {**base, **changes}


def assessment_post(api: APIClient, **changes: Any) -> Any:
    return api.post(ASSESSMENTS_URL, assessment_body(**changes), format="json")


def error_fields(response: Any) -> Any:
    assert 400 <= response.status_code < 500, response.content
    return response.json()["error"]["fields"]


# A complete patient record as PUT /api/patients/me takes it.
PROFILE = {
    "legal_first_name": "Avery",
    "legal_last_name": "Quintana",
    "date_of_birth": "1990-02-14",
    "sex_at_birth": "female",
    "phone": "(305) 555-0142",
    "address_line1": "742 Coral Way",
    "city": "Coral Gables",
    "state": "FL",
    "county": "Miami-Dade",
    "zip_code": "33145",
    "emergency_contact_name": "Blake Quintana",
    "emergency_contact_phone": "305-555-0143",
    "sitter_name": "Rowan Quintana",
    "sitter_phone": "+1 305 555 0144",
}

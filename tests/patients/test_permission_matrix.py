"""Patients' permission matrix: every endpoint x role, with today's status. Path parameters
name objects of the Florida `patient`: `other_patient` (New Jersey) and the physician
licensed only in New Jersey get 404 or a list without them; `physician` (FL and NJ) is let
in. Ops admins see contact details, never clinical data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from patients.models import SafetyFlag
from patients.screening import CONDITIONS, MEDICATION_CLASSES
from patients.services.intake import intake_save_draft, intake_submit
from tests.actors import client_for
from tests.permission_matrix import (
    Row,
    assert_row,
    cases,
    leaked,
    send,
    statuses,
    table_mismatch,
    traces_of,
)

pytestmark = pytest.mark.django_db


# statuses(anonymous, patient, other_patient, physician_licensed_elsewhere, physician, ops_admin)
MATRIX: dict[Row, dict[str, int]] = {
    ("GET", "patient-list"): statuses(401, 403, 403, 200, 200, 200),
    ("GET", "patient-me"): statuses(401, 200, 200, 403, 403, 403),
    ("PUT", "patient-me"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "patient-detail"): statuses(401, 200, 404, 404, 200, 200),
    ("POST", "patient-phone-verify-send"): statuses(401, 404, 404, 403, 403, 403),
    ("POST", "patient-phone-verify"): statuses(401, 400, 400, 403, 403, 403),
    ("POST", "assessment-create"): statuses(400, 400, 400, 400, 400, 400),
    ("GET", "assessment-questions"): statuses(200, 200, 200, 200, 200, 200),
    ("POST", "assessment-claim"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "consent-list"): statuses(401, 200, 200, 403, 403, 403),
    ("POST", "consent-sign"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "intake-mine"): statuses(401, 200, 404, 403, 403, 403),
    ("PUT", "intake-mine"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "intake-questionnaire"): statuses(401, 200, 200, 200, 200, 200),
    ("POST", "intake-submit"): statuses(401, 200, 404, 403, 403, 403),
    ("POST", "intake-answer"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "review-queue"): statuses(401, 403, 403, 200, 200, 403),
    ("GET", "review-intake"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "review-approve"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "review-decline"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "review-request-info"): statuses(401, 403, 403, 404, 200, 403),
    ("GET", "review-safety-flags"): statuses(401, 403, 403, 200, 200, 403),
    ("GET", "review-safety-flag"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "review-resolve-flag"): statuses(401, 403, 403, 404, 200, 403),
    ("POST", "questionnaire-submit"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "questionnaires-due"): statuses(401, 200, 200, 403, 403, 403),
    ("POST", "mood-create"): statuses(401, 400, 400, 403, 403, 403),
    ("GET", "patient-trend"): statuses(401, 200, 404, 404, 200, 404),
    ("GET", "patient-clearance"): statuses(401, 200, 404, 404, 200, 404),
}

BODIES: dict[Row, dict[str, Any]] = {
    ("POST", "review-decline"): {"reason": "Not suitable."},
    ("POST", "review-request-info"): {"question": "Which dose do you take?"},
    ("POST", "review-resolve-flag"): {"note": "Safety plan in place."},
}

ELIGIBLE_ANSWERS: dict[str, Any] = {
    "medical_history": dict.fromkeys(CONDITIONS, False),
    "medications": {"classes": dict.fromkeys(MEDICATION_CLASSES, False), "other": []},
    "allergies": [],
    "pregnant_or_breastfeeding": False,
    "audit_c": [1, 0, 0],
    "dast10": [False] * 10,
    "vitals": {"systolic": 118, "diastolic": 76, "height_cm": 170, "weight_kg": 68.5},
    "phq9": [2, 2, 1, 1, 1, 2, 1, 2, 0],
    "gad7": [1, 1, 1, 1, 1, 1, 0],
    "cssrs": {"items": [False] * 6, "lifetime_behavior": False},
}


def record_of(owner: Any) -> dict[str, Any]:
    return {"public_id": owner.patient.public_id}


def draft_of(owner: Any) -> dict[str, Any]:
    intake_save_draft(patient=owner.patient, answers=ELIGIBLE_ANSWERS)
    return {}


def intake_of(owner: Any) -> dict[str, Any]:
    draft_of(owner)
    return {"public_id": intake_submit(patient=owner.patient).public_id}


def flag_of(owner: Any) -> dict[str, Any]:
    flag = SafetyFlag.objects.create(
        patient=owner.patient, kind="self_harm_thoughts", source="questionnaire"
    )
    return {"public_id": flag.public_id}


def in_a_list(setup: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """For a list endpoint: the object exists, the URL takes no parameter."""

    def listed(owner: Any) -> dict[str, Any]:
        setup(owner)
        return {}

    return listed


SETUPS = {
    "patient-detail": record_of,
    "patient-trend": record_of,
    "patient-clearance": record_of,
    "intake-mine": draft_of,
    "intake-submit": draft_of,
    "review-queue": in_a_list(intake_of),
    "review-intake": intake_of,
    "review-approve": intake_of,
    "review-decline": intake_of,
    "review-request-info": intake_of,
    "review-safety-flags": in_a_list(flag_of),
    "review-safety-flag": flag_of,
    "review-resolve-flag": flag_of,
    "consent-sign": lambda owner: {"kind": "treatment"},
}


def test_every_patients_endpoint_has_a_row():
    assert not (problems := table_mismatch(MATRIX, "patients")), problems


@pytest.mark.parametrize(("method", "name", "role", "status"), cases(MATRIX))
def test_each_role_gets_the_expected_status(request, method, name, role, status):
    assert_row(request, (method, name), role, status, setups=SETUPS, bodies=BODIES)


@pytest.mark.parametrize("name", ["patient-list", "review-queue", "review-safety-flags"])
def test_the_lists_show_the_patient_to_their_physician(patient, physician, name):
    """So that a list without the patient, for an outsider, means something."""
    SETUPS.get(name, record_of)(patient)  # the record alone fills the patient list
    response = send(client_for(physician.user), "GET", name)
    assert leaked(response, traces_of(patient, {})), response.json()

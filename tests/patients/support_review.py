"""Helpers for the physician review tests (test_review_*.py)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.utils import timezone

from accounts.models import PhysicianProfile
from patients.models import Intake
from patients.screening import CONDITIONS, MEDICATION_CLASSES
from patients.services.intake import intake_save_draft, intake_submit
from tests.actors import client_for
from tests.factories import LicenseFactory, PhysicianFactory

SELF_HARM = {"phq9": [2, 2, 1, 1, 1, 2, 1, 2, 1]}


def complete_answers(**overrides: Any) -> dict[str, Any]:
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
        "cssrs": {"items": [False] * 6, "lifetime_behaviour": False},  # stored key
    }
    answers.update(copy.deepcopy(overrides))
    return answers


def with_condition(code: str) -> dict[str, Any]:
    return complete_answers(medical_history=dict.fromkeys(CONDITIONS, False) | {code: True})


def submitted_intake(patient_user: Any, answers: dict[str, Any] | None = None) -> Intake:
    """Save and submit through the services (no HTTP): for tests that need many intakes."""
    patient = patient_user.patient
    intake_save_draft(patient=patient, answers=answers or complete_answers())
    return intake_submit(patient=patient)


def fl_only_physician() -> PhysicianProfile:
    doctor = PhysicianFactory(last_name="Florida")
    LicenseFactory(physician=doctor, state="FL")
    return doctor


def queue(user: Any, query: str = "") -> Any:
    return client_for(user).get(f"/api/review/intakes{query}")


def act(user: Any, intake: Intake, action: str, body: dict[str, Any] | None = None) -> Any:
    return client_for(user).post(
        f"/api/review/intakes/{intake.public_id}/{action}", body or {}, format="json"
    )


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def set_submitted_at(intake: Intake, days_ago: int) -> None:
    Intake.objects.filter(pk=intake.pk).update(
        submitted_at=timezone.now() - dt.timedelta(days=days_ago)
    )

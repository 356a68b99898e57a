"""Helpers shared by the patients tests (never imported from another test_*.py file)."""

from __future__ import annotations

import copy
from typing import Any

from patients.screening import CONDITIONS, MEDICATION_CLASSES


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

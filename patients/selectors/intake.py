"""Intake reads: the stored answers and screening documents of an intake, in the current
spelling of their keys whenever they were written."""

from __future__ import annotations

from typing import Any, Final

from patients.models import Intake
from patients.questionnaire import answers_current_keys

# C-SSRS score keys of screenings stored before their US spelling.
LEGACY_CSSRS_SCORE_KEYS: Final = {
    "recent_behaviour": "recent_behavior",
    "lifetime_behaviour": "lifetime_behavior",
}


def intake_answers(intake: Intake) -> dict[str, Any]:
    """The intake's answers document (an encrypted JSON field, typed as text by the stubs)."""
    value: Any = intake.answers
    answers: dict[str, Any] = answers_current_keys(dict(value or {}))
    return answers


def intake_screening(intake: Intake) -> dict[str, Any] | None:
    """The stored screening: {ruleset_version, outcome, reasons, urgent_safety, scores, ...}."""
    value: Any = intake.screening
    if not value:
        return None
    document = dict(value)
    scores = document.get("scores")
    if isinstance(scores, dict):
        cssrs = scores.get("cssrs")
        if isinstance(cssrs, dict) and not LEGACY_CSSRS_SCORE_KEYS.keys().isdisjoint(cssrs):
            renamed = {LEGACY_CSSRS_SCORE_KEYS.get(key, key): v for key, v in cssrs.items()}
            document["scores"] = {**scores, "cssrs": renamed}
    return document

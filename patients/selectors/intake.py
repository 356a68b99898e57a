"""Intake reads: the stored answers and screening documents of an intake."""

from __future__ import annotations

from typing import Any

from patients.models import Intake


def intake_answers(intake: Intake) -> dict[str, Any]:
    """The intake's answers document (an encrypted JSON field, typed as text by the stubs)."""
    value: Any = intake.answers
    return dict(value or {})


def intake_screening(intake: Intake) -> dict[str, Any] | None:
    """The stored screening: {ruleset_version, outcome, reasons, urgent_safety, scores, ...}."""
    value: Any = intake.screening
    return dict(value) if value else None

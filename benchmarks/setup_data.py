"""Bench data: one user per token kind, each with a fresh live session.

Run inside the bench environment (`python -m benchmarks.setup_data`); prints a JSON object
{kind: access token} as its last line of stdout. Safe to run again on the same database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import django

QUEUE_INTAKES = 40  # more than one page of the review queue


def _token(user: Any, *, staff: bool) -> str:
    from django.utils import timezone

    from accounts.models import AuthSession
    from accounts.services import _issue_tokens

    session = AuthSession(user=user, mfa_required=staff, mfa_verified_at=timezone.now())
    tokens = _issue_tokens(session)
    tokens.session.save(force_insert=True)
    return tokens.access_token


def _user(email: str, role: str) -> Any:
    from accounts.models import User

    return User.objects.filter(email=email).first() or User.objects.create_user(
        email, "bench-password-123456", role=role
    )


def _patient_record(user: Any, n: int) -> Any:
    import datetime as dt

    from patients.models import Patient

    patient = Patient.objects.filter(user=user).first()
    if patient is None:
        patient = Patient(
            user=user,
            legal_first_name="Bench",
            legal_last_name=f"Patient{n}",
            date_of_birth=dt.date(1985, 1, 1),
            sex_at_birth="female",
            address_line1="1 Main St",
            city="Orlando",
            state="FL",
            county="Orange",
            zip_code="32801",
            time_zone="America/New_York",
            emergency_contact_name="E",
            emergency_contact_phone="+14075550100",
            sitter_name="S",
            sitter_phone="+14075550101",
        )
        patient.set_phone(f"+1407555{n:04d}")
        patient.save()
    return patient


def _patient() -> str:
    user = _user("bench-patient@example.test", "patient")
    _patient_record(user, 0)
    return _token(user, staff=False)


def _physician() -> str:
    """A Florida physician with a full review queue of submitted intakes."""
    import datetime as dt

    from django.utils import timezone

    from accounts.models import PhysicianProfile, StateLicense
    from patients.models import Intake, IntakeStatus

    user = _user("bench-physician@example.test", "physician")
    profile, _ = PhysicianProfile.objects.get_or_create(
        user=user, defaults={"first_name": "Bench", "last_name": "Doctor", "npi": "1234567893"}
    )
    StateLicense.objects.get_or_create(
        physician=profile,
        state="FL",
        defaults={"number": "ME1", "expires_on": dt.date.today() + dt.timedelta(days=365)},
    )
    for n in range(1, QUEUE_INTAKES + 1):
        patient = _patient_record(_user(f"bench-queue-{n}@example.test", "patient"), n)
        intake: dict[str, Any] = {
            "questionnaire_version": "bench",
            "answers": {},
            "ruleset_version": "2026-11-1",
            "screening": {"outcome": "eligible_pending_review", "reasons": []},
            "submitted_at": timezone.now() - dt.timedelta(minutes=n),
        }
        Intake.objects.get_or_create(
            patient=patient, status=IntakeStatus.SUBMITTED, defaults=intake
        )
    return _token(user, staff=True)


TOKEN_KINDS: dict[str, Callable[[], str]] = {"patient": _patient, "physician": _physician}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(json.dumps({kind: make() for kind, make in TOKEN_KINDS.items()}))


if __name__ == "__main__":
    main()

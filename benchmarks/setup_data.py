"""Bench data: one user per token kind, each with a fresh live session.

Run inside the bench environment (`python -m benchmarks.setup_data [KIND ...]
[--bookings N --bookings-file PATH]`); prints a JSON object {kind: access token} (every
kind, or only those named) as its last line of stdout. `--bookings` also writes one line
per booking request to PATH (benchmarks.scheduling_data.booking_feed). Safe to run again
on the same database (the scheduling data is made once; booking patients are new each
time).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django

QUEUE_INTAKES = 40  # more than one page of the review queue


def _token(user: Any, *, staff: bool) -> str:
    from django.utils import timezone

    from accounts.services.sessions import auth_session_issue

    tokens = auth_session_issue(user=user, mfa_verified_at=timezone.now())
    return tokens.access_token


def _user(email: str, role: str) -> Any:
    from accounts.models import User

    return User.objects.with_email(email).first() or User.objects.create_user(
        email, "bench-password-123456", role=role
    )


def _patient_record(user: Any, n: int) -> Any:
    import datetime as dt

    from django.utils import timezone

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
            phone_verified_at=timezone.now(),  # care texts go only to proven numbers
        )
        patient.set_phone(f"+1407555{n:04d}")
        patient.save()
    return patient


def _patient() -> str:
    user = _user("bench-patient@example.test", "patient")
    _patient_record(user, 0)
    return _token(user, staff=False)


def _intake_answers(n: int) -> dict[str, Any]:
    """Complete intake answers, one of three realistic profiles: each screens to several
    reasons (review or hard stop) and none to an urgent safety flag, so every screening
    document is 1.3-1.8 KB of JSON (reasons and all the scores), as real ones are."""
    from patients.screening import CONDITIONS, MEDICATION_CLASSES

    no, yes = False, True
    profiles: list[dict[str, Any]] = [
        {
            "conditions": ["lung_disease", "hepatic_impairment"],
            "medications": ["benzodiazepines", "opioids"],
            "other": ["sertraline 100 mg daily", "clonazepam 0.5 mg at night", "tramadol 50 mg"],
            "audit_c": [2, 1, 1],
            "dast10": [yes, no, yes, no, no, no, no, no, no, no],
            "vitals": {"systolic": 146, "diastolic": 92, "height_cm": 165, "weight_kg": 82.0},
            "phq9": [3, 2, 2, 2, 1, 2, 2, 1, 0],
            "gad7": [2, 2, 2, 1, 2, 1, 1],
            "lifetime_behaviour": True,
        },
        {
            "conditions": ["seizure_disorder"],
            "medications": ["benzodiazepines", "lamotrigine"],
            "other": ["lamotrigine 200 mg daily", "lorazepam 1 mg as needed"],
            "audit_c": [3, 1, 0],
            "dast10": [no] * 10,
            "vitals": {"systolic": 128, "diastolic": 84, "height_cm": 178, "weight_kg": 90.5},
            "phq9": [2, 3, 2, 2, 2, 1, 2, 1, 0],
            "gad7": [3, 2, 3, 2, 1, 2, 2],
            "lifetime_behaviour": False,
        },
        {
            "conditions": ["urinary_symptoms", "raised_intraocular_pressure"],
            "medications": ["stimulants", "strong_cyp3a4_modulators"],
            "other": ["lisdexamfetamine 40 mg daily", "fluconazole 150 mg weekly"],
            "audit_c": [1, 0, 1],
            "dast10": [yes, yes, yes, no, no, no, no, no, no, no],
            "vitals": {"systolic": 168, "diastolic": 104, "height_cm": 160, "weight_kg": 71.0},
            "phq9": [2, 2, 2, 1, 1, 2, 1, 2, 0],
            "gad7": [1, 2, 1, 1, 2, 1, 1],
            "lifetime_behaviour": True,
        },
    ]
    p = profiles[n % len(profiles)]
    return {
        "medical_history": dict.fromkeys(CONDITIONS, False) | dict.fromkeys(p["conditions"], True),
        "medications": {
            "classes": dict.fromkeys(MEDICATION_CLASSES, False)
            | dict.fromkeys(p["medications"], True),
            "other": p["other"],
        },
        "allergies": ["penicillin", "sulfa drugs"],
        "pregnant_or_breastfeeding": False,
        "audit_c": p["audit_c"],
        "dast10": p["dast10"],
        "vitals": p["vitals"],
        "phq9": p["phq9"],
        "gad7": p["gad7"],
        "cssrs": {"items": [False] * 6, "lifetime_behaviour": p["lifetime_behaviour"]},
    }


def _physician() -> str:
    """A Florida physician with a full review queue of submitted intakes, each saved and
    submitted through the intake services (scored and screened like a real one)."""
    import datetime as dt

    from accounts.models import PhysicianProfile, StateLicense
    from patients.models import Intake
    from patients.services.intake import intake_save_draft, intake_submit

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
        if not Intake.objects.filter(patient=patient).exists():
            intake_save_draft(patient=patient, answers=_intake_answers(n))
            intake_submit(patient=patient)
    return _token(user, staff=True)


def _scheduling_patient() -> str:
    """A Florida patient searching for slots among 50 physicians with 20,000 booked
    appointments (benchmarks.scheduling_data)."""
    from benchmarks.scheduling_data import search_patient_token

    return search_patient_token()


def _ops_admin() -> str:
    """An ops admin over 100,000 delivery orders (benchmarks.prescriptions_data)."""
    from benchmarks.prescriptions_data import ops_admin_token

    return ops_admin_token()


TOKEN_KINDS: dict[str, Callable[[], str]] = {
    "patient": _patient,
    "physician": _physician,
    "scheduling_patient": _scheduling_patient,
    "ops_admin": _ops_admin,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kinds", nargs="*", help=f"token kinds (default all: {list(TOKEN_KINDS)})")
    parser.add_argument("--bookings", type=int, default=0, help="booking requests to prepare")
    parser.add_argument("--bookings-file", type=Path, help="where to write them")
    parser.add_argument("--refills", type=int, default=0, help="refill requests to prepare")
    parser.add_argument("--refills-file", type=Path, help="where to write them")
    args = parser.parse_args(argv)
    if unknown := set(args.kinds) - set(TOKEN_KINDS):
        parser.error(f"unknown token kinds {sorted(unknown)}")
    if args.bookings and not args.bookings_file:
        parser.error("--bookings needs --bookings-file")
    if args.refills and not args.refills_file:
        parser.error("--refills needs --refills-file")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    kinds = args.kinds or list(TOKEN_KINDS)
    tokens = {kind: TOKEN_KINDS[kind]() for kind in kinds}
    if args.bookings:
        from benchmarks.scheduling_data import booking_feed

        booking_feed(args.bookings, args.bookings_file)
    if args.refills:
        from benchmarks.prescriptions_data import refill_feed

        refill_feed(args.refills, args.refills_file)
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()

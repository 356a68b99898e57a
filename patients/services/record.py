"""The patient record, write side: the patient creates or replaces their own."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import ValidationFailed
from patients.geography import county_is_valid, county_time_zone
from patients.models import Patient
from patients.validators import MIN_AGE, age_on, zip_in_state

PROFILE_FIELDS = (
    "legal_first_name",
    "legal_last_name",
    "date_of_birth",
    "sex_at_birth",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "county",
    "zip_code",
    "emergency_contact_name",
    "emergency_contact_phone",
    "sitter_name",
    "sitter_phone",
)


def _profile_errors(data: dict[str, Any], today: date) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    state, county = data["state"], data["county"]
    if not county_is_valid(state, county):
        errors["county"] = [f"Not a county of {state}."]
    if not zip_in_state(data["zip_code"], state):
        errors["zip_code"] = [f"Not a {state} ZIP code."]
    if age_on(data["date_of_birth"], today) < MIN_AGE:
        errors["date_of_birth"] = [f"Patients must be {MIN_AGE} or older."]
    if data["date_of_birth"] > today:
        errors["date_of_birth"] = ["Date of birth is in the future."]
    zone = county_time_zone(state, county) if "county" not in errors else None
    if "county" not in errors and zone is None and not data.get("time_zone"):
        errors["time_zone"] = [f"{county} County spans two time zones: choose yours."]
    return errors


def _time_zone(data: dict[str, Any]) -> str:
    derived = county_time_zone(data["state"], data["county"])
    return derived or data["time_zone"]


def _apply(patient: Patient, data: dict[str, Any]) -> Patient:
    for name in PROFILE_FIELDS:
        if name != "phone":
            setattr(patient, name, data.get(name, ""))
    previous_hash = patient.phone_hash
    patient.set_phone(data["phone"])
    if patient.phone_hash != previous_hash:  # a new number is unproven until its code
        patient.phone_verified_at = None
    patient.time_zone = _time_zone(data)
    return patient


@transaction.atomic
def patient_profile_save(*, user: User, data: dict[str, Any], today: date) -> Patient:
    """Create or replace the signed-in patient's record; every field is checked before
    any is written, and a double submission ends as one record."""
    if errors := _profile_errors(data, today):
        raise ValidationFailed(fields=errors)
    patient = Patient.objects.select_for_update().filter(user=user).first()
    created = False
    if patient is None:
        try:
            with transaction.atomic():
                patient = _apply(Patient(user=user), data)
                patient.save()
                created = True
        except IntegrityError:  # the twin request created it first: update that one
            patient = Patient.objects.select_for_update().get(user=user)
    if not created:
        _apply(patient, data).save()
    audit_write(patient, actor=user, action=AuditAction.CREATE if created else AuditAction.UPDATE)
    return patient

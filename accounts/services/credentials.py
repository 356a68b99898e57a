"""Physicians and their credentials: state licenses, DEA and state CDS registrations.

What the credentials allow (may treat, may prescribe) is decided in
accounts.selectors.physician_authority."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction

from accounts.models import (
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    Role,
    StateLicense,
    User,
    VerificationStatus,
)
from accounts.services.registration import normalize_email, password_validate
from accounts.validators import dea_check, dea_normalize, dea_schedules_normalize, npi_is_valid
from core.errors import Conflict, ValidationFailed


@transaction.atomic
def physician_create(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    npi: str,
    practice_address: str = "",
) -> PhysicianProfile:
    if not npi_is_valid(npi):
        raise ValidationFailed(
            fields={"npi": ["Not a valid NPI (10 digits with a Luhn check digit)."]}
        )
    user = User(email=normalize_email(email), role=Role.PHYSICIAN)
    password_validate(password=password, user=user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            profile = PhysicianProfile.objects.create(
                user=user,
                first_name=first_name,
                last_name=last_name,
                npi=npi,
                practice_address=practice_address,
            )
    except IntegrityError as exc:
        raise Conflict(
            "A user with this email or NPI already exists.", code="physician_exists"
        ) from exc
    return profile


@transaction.atomic
def license_set(
    *,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    status: str = LicenseStatus.ACTIVE,
) -> StateLicense:
    state_license, _ = StateLicense.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={"number": number, "expires_on": expires_on, "status": status},
    )
    return state_license


@transaction.atomic
def dea_registration_set(
    *, physician: PhysicianProfile, number: str, state: str, expires_on: date, schedules: list[str]
) -> DeaRegistration:
    """Store a DEA registration; a failing check holds it for manual verification."""
    check = dea_check(number, last_name=physician.last_name)
    if not check.well_formed:
        raise ValidationFailed(
            fields={"number": ["A DEA number is two letters and seven digits (e.g. AB1234563)."]}
        )
    normalized_schedules = dea_schedules_normalize(schedules)
    if normalized_schedules is None:
        raise ValidationFailed(fields={"schedules": ["Schedules are 2, 2N, 3, 3N, 4 or 5."]})
    registration, _ = DeaRegistration.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={
            "number": dea_normalize(number),
            "expires_on": expires_on,
            "schedules": normalized_schedules,
            "verification": VerificationStatus.VERIFIED
            if check.verified
            else VerificationStatus.NEEDS_MANUAL_VERIFICATION,
            "verification_problems": list(check.problems),
        },
    )
    return registration


@transaction.atomic
def cds_registration_set(
    *, physician: PhysicianProfile, state: str, number: str, expires_on: date
) -> CdsRegistration:
    registration, _ = CdsRegistration.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={"number": number, "expires_on": expires_on, "status": LicenseStatus.ACTIVE},
    )
    return registration

"""Physicians and their credentials (state licenses, DEA and state CDS registrations), and
the other grants of access: a user's role, staff flag and active flag.

What the credentials allow (may treat, may prescribe) is decided in
accounts.selectors.physician_authority. The physician_credential_* services are how people
change credentials (the admin calls them): they need the `credentialing` permission, record
who verified the credential against what source, and are audited. The plain setters below
them (license_set, ...) are for trusted callers only: seed_demo and tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import (
    CREDENTIALING_PERMISSION,
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    Role,
    StateLicense,
    User,
    VerificationStatus,
    normalize_email,
)
from accounts.services.registration import password_validate
from accounts.services.sessions import user_sessions_revoke
from accounts.validators import dea_check, dea_normalize, dea_schedules_normalize, npi_is_valid
from audit.models import AuditAction
from audit.services import audit_record, audit_write
from core.errors import Conflict, PermissionDenied, ValidationFailed


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
    verification: dict[str, Any] | None = None,
) -> StateLicense:
    state_license, _ = StateLicense.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={
            "number": number,
            "expires_on": expires_on,
            "status": status,
            **(verification or {}),
        },
    )
    return state_license


@transaction.atomic
def dea_registration_set(
    *,
    physician: PhysicianProfile,
    number: str,
    state: str,
    expires_on: date,
    schedules: list[str],
    verification: dict[str, Any] | None = None,
) -> DeaRegistration:
    """Store a DEA registration; a failing check holds it for manual verification (which
    `verification` may record: {"verification": "verified", "verified_by": ...})."""
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
            **(verification or {}),
        },
    )
    return registration


@transaction.atomic
def cds_registration_set(
    *,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    status: str = LicenseStatus.ACTIVE,
    verification: dict[str, Any] | None = None,
) -> CdsRegistration:
    registration, _ = CdsRegistration.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={
            "number": number,
            "expires_on": expires_on,
            "status": status,
            **(verification or {}),
        },
    )
    return registration


# --- what people call: permission, verification record, audit ---------------------------


def credentialing_check(*, actor: User, subject: User | None = None) -> None:
    """PermissionDenied unless `actor` holds `credentialing`; nobody credentials themself."""
    if not actor.has_perm(CREDENTIALING_PERMISSION):
        raise PermissionDenied(
            "Only a credentialing user may change credentials.", code="credentialing_required"
        )
    if subject is not None and subject.pk == actor.pk:
        raise PermissionDenied(
            "Nobody may change their own credentials or access.", code="own_credentials"
        )


def _verification(actor: User, source: str) -> dict[str, Any]:
    if not source.strip():
        raise ValidationFailed(
            fields={"verification_source": ["Say where the credential was verified."]}
        )
    return {
        "verified_by": actor,
        "verified_at": timezone.now(),
        "verification_source": source.strip(),
    }


def _credential_audit(
    *, actor: User, physician: PhysicianProfile, credential: str, detail: dict[str, Any]
) -> None:
    # Credentials have no public id of their own: they are named by their physician.
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="accounts.physicianprofile",
        object_id=str(physician.user.public_id),
        detail={"credential": credential, "verified_by": str(actor.public_id), **detail},
    )


@transaction.atomic
def physician_credential_profile_add(*, actor: User, profile: PhysicianProfile) -> None:
    """Save a new physician profile (built by the caller, unsaved) for an existing account
    that already has the physician role: a patient or ops account never becomes a
    physician by gaining a profile."""
    credentialing_check(actor=actor, subject=profile.user)
    if profile.user.role != Role.PHYSICIAN:
        raise ValidationFailed(fields={"user": ["Only a physician account gets a profile."]})
    if not npi_is_valid(profile.npi):
        raise ValidationFailed(
            fields={"npi": ["Not a valid NPI (10 digits with a Luhn check digit)."]}
        )
    try:
        with transaction.atomic():
            profile.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(
            "This account or NPI already has a profile.", code="physician_exists"
        ) from exc
    _credential_audit(actor=actor, physician=profile, credential="profile", detail={})


@transaction.atomic
def physician_credential_license_set(
    *,
    actor: User,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    status: str,
    verification_source: str,
) -> StateLicense:
    credentialing_check(actor=actor, subject=physician.user)
    state_license = license_set(
        physician=physician,
        state=state,
        number=number,
        expires_on=expires_on,
        status=status,
        verification=_verification(actor, verification_source),
    )
    _credential_audit(
        actor=actor,
        physician=physician,
        credential="license",
        detail={
            "state": state,
            "status": status,
            "verification_source": state_license.verification_source,
        },
    )
    return state_license


@transaction.atomic
def physician_credential_dea_set(
    *,
    actor: User,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    schedules: list[str],
    verification_source: str,
    manually_verified: bool = False,
) -> DeaRegistration:
    """`manually_verified` accepts a number whose check failed, once a person has verified
    it against the DEA's own records (named in `verification_source`)."""
    credentialing_check(actor=actor, subject=physician.user)
    verification = _verification(actor, verification_source)
    if manually_verified:
        verification["verification"] = VerificationStatus.VERIFIED
    registration = dea_registration_set(
        physician=physician,
        state=state,
        number=number,
        expires_on=expires_on,
        schedules=schedules,
        verification=verification,
    )
    _credential_audit(
        actor=actor,
        physician=physician,
        credential="dea",
        detail={
            "state": state,
            "verification": registration.verification,
            "verification_source": registration.verification_source,
        },
    )
    return registration


@transaction.atomic
def physician_credential_cds_set(
    *,
    actor: User,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    status: str,
    verification_source: str,
) -> CdsRegistration:
    credentialing_check(actor=actor, subject=physician.user)
    registration = cds_registration_set(
        physician=physician,
        state=state,
        number=number,
        expires_on=expires_on,
        status=status,
        verification=_verification(actor, verification_source),
    )
    _credential_audit(
        actor=actor,
        physician=physician,
        credential="cds",
        detail={
            "state": state,
            "status": status,
            "verification_source": registration.verification_source,
        },
    )
    return registration


@transaction.atomic
def user_access_change(
    *, actor: User, user: User, role: str, is_staff: bool, is_active: bool
) -> list[str]:
    """Change a user's role, staff flag and active flag; returns the fields changed.

    Role and staff flag need `credentialing`; the active flag needs only the right to change
    users. Any change revokes every session of the user: what a session may do was decided
    with the old values."""
    changed = [
        name
        for name, value in (("role", role), ("is_staff", is_staff), ("is_active", is_active))
        if getattr(user, name) != value
    ]
    if not changed:
        return changed
    if {"role", "is_staff"} & set(changed):
        credentialing_check(actor=actor, subject=user)
    elif not actor.has_perm("accounts.change_user") or user.pk == actor.pk:
        raise PermissionDenied("You may not change this user's access.", code="access_denied")
    if role not in Role.values:
        raise ValidationFailed(fields={"role": ["Not a role."]})
    User.objects.filter(pk=user.pk).update(role=role, is_staff=is_staff, is_active=is_active)
    user.role, user.is_staff, user.is_active = role, is_staff, is_active
    revoked = user_sessions_revoke(user=user, actor=actor, reason="access_changed")
    audit_write(
        user,
        actor=actor,
        action=AuditAction.UPDATE,
        detail={"fields": changed, "role": role, "sessions_revoked": revoked},
    )
    return changed


@transaction.atomic
def credentialing_grant(*, user: User, granted: bool = True) -> None:
    """Give (or take back) the `credentialing` permission: only from manage.py, so only
    someone with shell access to production decides who may credential."""
    codename = CREDENTIALING_PERMISSION.partition(".")[2]
    permission, _ = Permission.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(PhysicianProfile),
        codename=codename,
        defaults={"name": "Can verify and change physician credentials"},
    )
    if granted:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)
    audit_write(
        user,
        actor=None,
        action=AuditAction.UPDATE,
        detail={"surface": "manage.py", "credentialing": granted},
    )

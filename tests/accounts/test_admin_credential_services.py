"""The credentialing services the admin calls: permission, no self-credentialing, a
verification source on every change, and the DEA check still applied."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import AuthSession, VerificationStatus
from accounts.services.credentials import (
    credentialing_grant,
    physician_credential_cds_set,
    physician_credential_dea_set,
    physician_credential_license_set,
    user_access_change,
)
from accounts.services.sessions import auth_session_issue
from core.errors import PermissionDenied, ValidationFailed
from tests.factories import PhysicianFactory, UserFactory

pytestmark = pytest.mark.django_db

EXPIRES = dt.date(2031, 1, 1)


@pytest.fixture
def credentialer():
    user = UserFactory(role="ops_admin", is_staff=True)
    credentialing_grant(user=user)
    return user


def license_args(actor, physician, source="FL DOH lookup"):
    return {
        "actor": actor,
        "physician": physician,
        "state": "FL",
        "number": "ME1",
        "expires_on": EXPIRES,
        "status": "active",
        "verification_source": source,
    }


def test_without_the_grant_credentials_are_refused():
    ops = UserFactory(role="ops_admin", is_staff=True)
    with pytest.raises(PermissionDenied):
        physician_credential_license_set(**license_args(ops, PhysicianFactory()))


def test_nobody_credentials_themself(credentialer):
    own = PhysicianFactory(user=UserFactory(role="physician"))
    credentialing_grant(user=own.user)
    with pytest.raises(PermissionDenied):
        physician_credential_license_set(**license_args(own.user, own))


def test_a_change_without_a_source_is_refused(credentialer):
    with pytest.raises(ValidationFailed):
        physician_credential_license_set(**license_args(credentialer, PhysicianFactory(), "  "))


def test_dea_check_still_holds_a_failing_number_unless_verified_by_hand(credentialer):
    physician = PhysicianFactory(last_name="Rivera")
    common = {
        "actor": credentialer,
        "physician": physician,
        "state": "FL",
        "number": "AR1234564",  # wrong check digit
        "expires_on": EXPIRES,
        "schedules": ["III"],
        "verification_source": "DEA registrant validation",
    }
    held = physician_credential_dea_set(**common)
    assert held.verification == VerificationStatus.NEEDS_MANUAL_VERIFICATION
    verified = physician_credential_dea_set(**common, manually_verified=True)
    assert verified.verification == VerificationStatus.VERIFIED
    assert verified.verified_by == credentialer


def test_cds_records_its_verification(credentialer):
    registration = physician_credential_cds_set(
        actor=credentialer,
        physician=PhysicianFactory(),
        state="NJ",
        number="CDS-1",
        expires_on=EXPIRES,
        status="active",
        verification_source="NJ CDS lookup",
    )
    assert (registration.verified_by, registration.verification_source) == (
        credentialer,
        "NJ CDS lookup",
    )


def test_role_change_needs_the_grant_and_revokes_sessions(credentialer):
    ops = UserFactory(role="ops_admin", is_staff=True)
    target = UserFactory(role="patient")
    session = auth_session_issue(user=target).session
    with pytest.raises(PermissionDenied):
        user_access_change(actor=ops, user=target, role="ops_admin", is_staff=True, is_active=True)
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None
    changed = user_access_change(
        actor=credentialer, user=target, role="ops_admin", is_staff=True, is_active=True
    )
    assert changed == ["role", "is_staff"]
    assert AuthSession.objects.get(pk=session.pk).revoked_at is not None

"""The people in the tests: one fixture per actor, and a signed-in API client for each."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import CdsRegistration, PhysicianProfile, User
from accounts.services.sessions import auth_session_issue
from tests.factories import DeaFactory, LicenseFactory, PatientFactory, PhysicianFactory, far_future

__all__ = [
    "access_token_for",
    "actor_user",
    "client_for",
    "ops_admin",
    "other_patient",
    "patient",
    "physician",
    "physician_licensed_elsewhere",
    "unlicensed_physician",
]


def access_token_for(user: User) -> str:
    """A fresh access token for `user`, MFA already satisfied."""
    return auth_session_issue(user=user, mfa_verified_at=timezone.now()).access_token


def client_for(user: User) -> APIClient:
    """An API client holding a fresh access token for `user`, MFA already satisfied."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


def actor_user(request: pytest.FixtureRequest, name: str) -> User:
    """The user behind an actor fixture, by name (physician fixtures are profiles)."""
    actor = request.getfixturevalue(name)
    return getattr(actor, "user", actor)


@pytest.fixture
def patient() -> User:
    return PatientFactory().user


@pytest.fixture
def other_patient() -> User:
    return PatientFactory(county="Bergen", state="NJ", time_zone="America/New_York").user


@pytest.fixture
def physician() -> PhysicianProfile:
    """Licensed in FL and NJ, DEA in both, NJ CDS registration."""
    doctor = PhysicianFactory(last_name="Byrd")
    for state in ("FL", "NJ"):
        LicenseFactory(physician=doctor, state=state)
        DeaFactory(physician=doctor, state=state)
    CdsRegistration.objects.create(
        physician=doctor, state="NJ", number="CDS-1", expires_on=far_future()
    )
    return doctor


@pytest.fixture
def unlicensed_physician() -> PhysicianProfile:
    return PhysicianFactory(last_name="Nolan")


@pytest.fixture
def ops_admin() -> User:
    from tests.factories import UserFactory

    return UserFactory(role="ops_admin", is_staff=True)


@pytest.fixture
def physician_licensed_elsewhere() -> PhysicianProfile:
    """Licensed in New Jersey only: for the Florida `patient`, a physician of another state."""
    doctor = PhysicianFactory(last_name="Elsewhere")
    LicenseFactory(physician=doctor, state="NJ")
    DeaFactory(physician=doctor, state="NJ")
    return doctor

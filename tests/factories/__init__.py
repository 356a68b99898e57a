from __future__ import annotations

import datetime as dt
import functools

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import (
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    Role,
    StateLicense,
    User,
    VerificationStatus,
)
from patients.models import Patient

PASSWORD = "correct horse battery staple"


@functools.cache
def _password_hash_by(hasher: str) -> str:
    return make_password(PASSWORD)


def _password_hash() -> str:
    """One hash shared by every factory user, per hasher: a test that switches hashers
    (the schema fuzz uses MD5) must not leave its hash to the tests after it."""
    return _password_hash_by(settings.PASSWORD_HASHERS[0])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    role = Role.PATIENT
    password = factory.LazyFunction(_password_hash)
    # Verified, so existing tests keep their meaning; unverified ones ask for None.
    email_verified_at = factory.LazyFunction(timezone.now)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    user = factory.SubFactory(UserFactory, role=Role.PATIENT)
    legal_first_name = "Jordan"
    legal_last_name = factory.Sequence(lambda n: f"Rivers{n}")
    date_of_birth = dt.date(1985, 6, 1)
    sex_at_birth = "female"
    address_line1 = "1 Main St"
    city = "Pensacola"
    state = "FL"
    county = "Escambia"
    zip_code = "32502"
    time_zone = "America/Chicago"
    emergency_contact_name = "Casey Rivers"
    emergency_contact_phone = "+18505550100"
    sitter_name = "Morgan Rivers"
    sitter_phone = "+18505550101"
    # Whatever phone a test puts on file counts as proven (tests of the proof clear it).
    phone_verified_at = factory.LazyFunction(timezone.now)


class PhysicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PhysicianProfile

    user = factory.SubFactory(UserFactory, role=Role.PHYSICIAN)
    first_name = "Ada"
    last_name = "Byrd"
    npi = factory.Sequence(lambda n: _npi_for(100000000 + n))


def _npi_for(base: int) -> str:
    from accounts.validators import npi_is_valid

    stem = f"{base:09d}"
    return next(stem + str(d) for d in range(10) if npi_is_valid(stem + str(d)))


def far_future() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=365)


class LicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StateLicense

    physician = factory.SubFactory(PhysicianFactory)
    state = "FL"
    number = factory.Sequence(lambda n: f"ME{n:06d}")
    status = LicenseStatus.ACTIVE
    expires_on = factory.LazyFunction(far_future)


class DeaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeaRegistration

    physician = factory.SubFactory(PhysicianFactory)
    number = "BB1234563"
    state = "FL"
    schedules = ["II", "III", "IV", "V"]
    expires_on = factory.LazyFunction(far_future)
    verification = VerificationStatus.VERIFIED

"""Physician credentials as stored by the services: DEA schedules as printed on certificates."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.selectors import physician_authority, physician_with_credentials
from accounts.services.credentials import dea_registration_set
from core.errors import ValidationFailed
from tests.factories import LicenseFactory, PhysicianFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [(["3N"], ["IIIN"]), (["2", "3", "4", "5"], ["II", "III", "IV", "V"]), (["III", "3"], ["III"])],
)
def test_dea_schedules_as_printed_on_certificates(given, stored):
    doctor = PhysicianFactory(last_name="Byrd")
    LicenseFactory(physician=doctor, state="FL")
    registration = dea_registration_set(
        physician=doctor,
        number="BB1234563",
        state="FL",
        schedules=given,
        expires_on=timezone.localdate() + dt.timedelta(days=30),
    )
    assert registration.schedules == stored
    authority = physician_authority(physician_with_credentials(doctor.user_id), "FL")
    assert authority.may_prescribe == ("III" in stored or "IIIN" in stored)


def test_unknown_schedule_is_a_field_error():
    doctor = PhysicianFactory(last_name="Byrd")
    with pytest.raises(ValidationFailed) as refused:
        dea_registration_set(
            physician=doctor,
            number="BB1234563",
            state="FL",
            schedules=["VI"],
            expires_on=dt.date(2030, 1, 1),
        )
    assert "schedules" in refused.value.fields

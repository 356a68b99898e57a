"""Whether a physician may treat and prescribe (Schedule III) for a patient in a state."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import (
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    StateLicense,
    VerificationStatus,
)
from accounts.selectors import (
    physician_authority,
    physician_with_credentials,
    physicians_licensed_in,
)
from core.clock import practice_today
from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory

pytestmark = pytest.mark.django_db


def yesterday() -> dt.date:
    return practice_today() - dt.timedelta(days=1)


def _dea(physician, state):
    return DeaRegistration.objects.get(physician=physician, state=state)


@pytest.mark.parametrize("state", ["FL", "NJ"])
def test_fully_credentialed_physician_may_treat_and_prescribe(physician, state):
    authority = physician_authority(physician, state)
    assert authority.may_treat
    assert authority.may_prescribe
    assert authority.reasons == []


def test_unlicensed_physician_may_not_treat(unlicensed_physician):
    authority = physician_authority(unlicensed_physician, "FL")
    assert not authority.may_treat
    assert not authority.may_prescribe
    assert "no_license_in_state" in authority.reasons


def test_license_in_another_state_does_not_count():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL")
    DeaFactory(physician=doctor, state="FL")
    authority = physician_authority(doctor, "NJ")
    assert not authority.may_treat
    assert "no_license_in_state" in authority.reasons


def test_expired_license_may_not_treat(physician):
    StateLicense.objects.filter(physician=physician, state="FL").update(expires_on=yesterday())
    authority = physician_authority(physician, "FL")
    assert not authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["license_expired"]


def test_license_is_valid_through_its_expiry_date(physician):
    StateLicense.objects.filter(physician=physician, state="FL").update(expires_on=yesterday())
    on_expiry_day = physician_authority(physician, "FL", on=yesterday())
    day_after = physician_authority(physician, "FL", on=yesterday() + dt.timedelta(days=1))
    assert on_expiry_day.may_treat
    assert not day_after.may_treat


@pytest.mark.parametrize(
    "status", [LicenseStatus.SUSPENDED, LicenseStatus.REVOKED, LicenseStatus.INACTIVE]
)
def test_license_not_active_may_not_treat(physician, status):
    StateLicense.objects.filter(physician=physician, state="FL").update(status=status)
    authority = physician_authority(physician, "FL")
    assert not authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["license_not_active"]


def test_expired_dea_may_treat_but_not_prescribe(physician):
    DeaRegistration.objects.filter(physician=physician, state="FL").update(expires_on=yesterday())
    authority = physician_authority(physician, "FL")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["dea_expired"]


def test_dea_without_schedule_iii_may_treat_but_not_prescribe(physician):
    DeaRegistration.objects.filter(physician=physician, state="FL").update(
        schedules=["II", "IV", "V"]
    )
    authority = physician_authority(physician, "FL")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["dea_lacks_schedule_iii"]


@pytest.mark.parametrize(
    "verification", [VerificationStatus.NEEDS_MANUAL_VERIFICATION, VerificationStatus.REJECTED]
)
def test_unverified_dea_may_treat_but_not_prescribe(physician, verification):
    DeaRegistration.objects.filter(physician=physician, state="FL").update(
        verification=verification
    )
    authority = physician_authority(physician, "FL")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["dea_not_verified"]


def test_dea_in_another_state_does_not_count(physician):
    DeaRegistration.objects.filter(physician=physician, state="NJ").delete()
    authority = physician_authority(physician, "NJ")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["no_dea_registration_in_state"]
    assert physician_authority(physician, "FL").may_prescribe


def test_nj_without_cds_may_treat_but_not_prescribe(physician):
    CdsRegistration.objects.filter(physician=physician, state="NJ").delete()
    authority = physician_authority(physician, "NJ")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["no_cds_registration"]


def test_florida_does_not_need_cds(physician):
    CdsRegistration.objects.filter(physician=physician).delete()
    assert physician_authority(physician, "FL").may_prescribe


def test_nj_with_expired_cds_may_not_prescribe(physician):
    CdsRegistration.objects.filter(physician=physician, state="NJ").update(expires_on=yesterday())
    authority = physician_authority(physician, "NJ")
    assert authority.may_treat
    assert not authority.may_prescribe
    assert authority.reasons == ["cds_not_current"]


def test_nj_with_suspended_cds_may_not_prescribe(physician):
    CdsRegistration.objects.filter(physician=physician, state="NJ").update(
        status=LicenseStatus.SUSPENDED
    )
    authority = physician_authority(physician, "NJ")
    assert not authority.may_prescribe
    assert authority.reasons == ["cds_not_current"]


def test_authority_is_judged_on_the_given_date(physician):
    later = _dea(physician, "FL").expires_on + dt.timedelta(days=1)
    authority = physician_authority(physician, "FL", on=later)
    assert authority.on == later
    assert not authority.may_treat
    assert "license_expired" in authority.reasons
    assert "dea_expired" in authority.reasons


# --- physicians_licensed_in ---------------------------------------------------------------


def test_licensed_in_nj_includes_physician_licensed_there(physician):
    assert list(physicians_licensed_in("NJ")) == [physician]


def test_licensed_in_nj_excludes_florida_only_physician(physician):
    florida_only = PhysicianFactory()
    LicenseFactory(physician=florida_only, state="FL")
    assert florida_only not in physicians_licensed_in("NJ")
    assert florida_only in physicians_licensed_in("FL")


def test_licensed_in_nj_excludes_expired_nj_license_even_with_active_fl_license():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL")
    LicenseFactory(physician=doctor, state="NJ", expires_on=yesterday())
    assert doctor not in physicians_licensed_in("NJ")


def test_licensed_in_nj_excludes_suspended_nj_license_even_with_active_fl_license():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL")
    LicenseFactory(physician=doctor, state="NJ", status=LicenseStatus.SUSPENDED)
    assert doctor not in physicians_licensed_in("NJ")


def test_licensed_in_excludes_deactivated_physician(physician):
    physician.user.is_active = False
    physician.user.save(update_fields=["is_active"])
    assert physician not in physicians_licensed_in("NJ")


def test_licensed_in_lists_each_physician_once(physician):
    assert list(physicians_licensed_in("FL")).count(physician) == 1


def test_licensed_in_excludes_unlicensed_physician(physician, unlicensed_physician):
    assert unlicensed_physician not in physicians_licensed_in("FL")


def test_licensed_in_then_authority_needs_no_further_queries(physician, django_assert_num_queries):
    doctors = list(physicians_licensed_in("NJ"))
    with django_assert_num_queries(0):
        authorities = [physician_authority(doctor, "NJ") for doctor in doctors]
    assert [a.may_prescribe for a in authorities] == [True]


def test_license_expiry_follows_the_practices_calendar_not_utc():
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor, state="FL", expires_on=dt.date(2026, 7, 14))
    # 02:00 UTC on the 15th is still 22:00 on the 14th in Eastern time.
    with time_machine.travel(dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC), tick=False):
        assert physician_authority(physician_with_credentials(doctor.user_id), "FL").may_treat
    with time_machine.travel(dt.datetime(2026, 7, 15, 5, 0, tzinfo=dt.UTC), tick=False):
        assert not physician_authority(physician_with_credentials(doctor.user_id), "FL").may_treat

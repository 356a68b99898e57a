"""The slot search's candidates ask physician_authority over a stand-in holding only the
credential columns it reads: day by day, the answer must be the one the rule gives over
the physician's real credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.models import LicenseStatus, PhysicianProfile, VerificationStatus
from accounts.selectors import physician_authority, physician_with_credentials
from scheduling.selectors.slot_candidates import candidates
from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory

pytestmark = pytest.mark.django_db

START = date(2026, 12, 1)
DAYS = [START + timedelta(days=n) for n in range(12)]


def _physicians() -> dict[str, int]:
    """Physicians whose FL answers differ across DAYS (and one licensed in NJ only)."""
    made = {}
    plain = PhysicianFactory()
    LicenseFactory(physician=plain)
    DeaFactory(physician=plain)
    made["plain"] = plain.pk
    lapsing = PhysicianFactory()
    LicenseFactory(physician=lapsing, expires_on=START + timedelta(days=4))
    DeaFactory(physician=lapsing, expires_on=START + timedelta(days=2))
    made["license lapses, dea lapses earlier"] = lapsing.pk
    unverified = PhysicianFactory()
    LicenseFactory(physician=unverified, expires_on=START + timedelta(days=7))
    DeaFactory(physician=unverified, verification=VerificationStatus.NEEDS_MANUAL_VERIFICATION)
    made["dea unverified"] = unverified.pk
    suspended_elsewhere = PhysicianFactory()
    LicenseFactory(physician=suspended_elsewhere)
    LicenseFactory(physician=suspended_elsewhere, state="NJ", status=LicenseStatus.SUSPENDED)
    made["a suspended NJ license too"] = suspended_elsewhere.pk
    inactive = PhysicianFactory()
    LicenseFactory(physician=inactive)
    inactive.user.is_active = False
    inactive.user.save(update_fields=["is_active"])
    made["account inactive"] = inactive.pk
    nj_only = PhysicianFactory()
    LicenseFactory(physician=nj_only, state="NJ")
    made["NJ only"] = nj_only.pk
    return made


@pytest.mark.parametrize("state", ["FL", "NJ"])
def test_candidates_answer_as_physician_authority_does_day_by_day(state):
    made = _physicians()
    range_start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    found, treats = candidates(state, range_start, range_start + timedelta(days=12), None)
    for doctor in found:
        real = physician_with_credentials(doctor.user_id)
        assert real is not None
        for day in DAYS:
            expected = physician_authority(real, state, on=day).may_treat
            assert treats[doctor.pk].on(day) is expected, (doctor.pk, day)
    # Who is a candidate: an active account with an active license in the state that is
    # unexpired on the range's first day.
    wanted = {
        pk
        for pk in made.values()
        if (real := physician_with_credentials_pk(pk)) is not None
        and physician_authority(real, state, on=DAYS[0]).may_treat
    }
    assert {doctor.pk for doctor in found} == wanted


def physician_with_credentials_pk(pk: int) -> PhysicianProfile | None:
    return physician_with_credentials(PhysicianProfile.objects.get(pk=pk).user_id)

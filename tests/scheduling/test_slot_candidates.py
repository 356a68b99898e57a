"""The slot search's candidates ask physician_authority over a stand-in holding only the
credential columns it reads: day by day, the answer must be the one the rule gives over
the physician's real credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from accounts.models import LicenseStatus, PhysicianProfile, VerificationStatus
from accounts.selectors import physician_authority, physician_with_credentials
from scheduling.models import AvailabilityOverride, OverrideKind, WeeklyAvailability
from scheduling.selectors.slot_candidates import candidates
from tests.factories import DeaFactory, LicenseFactory, PhysicianFactory
from tests.scheduling.support import schedule_for

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
    found, treats, _, _ = candidates(state, range_start, range_start + timedelta(days=12), None)
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


def test_candidates_carry_the_weekly_rules_and_the_overrides_around_the_range():
    """What the search reads with each candidate: every weekly rule, and the overrides on
    the practice dates from the day before the range's first to the day after its last."""
    doctor = PhysicianFactory()
    LicenseFactory(physician=doctor)
    DeaFactory(physician=doctor)
    schedule_for(doctor, weekdays=(0, 2), start=time(8, 30), end=time(12, 15, 30))
    WeeklyAvailability.objects.create(
        physician=doctor, weekday=2, start_time=time(13), end_time=time(17, 45)
    )
    first, last = date(2026, 12, 7), date(2026, 12, 11)
    for day, kind, start, end in [
        (first - timedelta(days=2), OverrideKind.TIME_OFF, None, None),  # too early
        (first - timedelta(days=1), OverrideKind.TIME_OFF, None, None),
        (first + timedelta(days=2), OverrideKind.TIME_OFF, time(9), time(10, 0, 0, 500)),
        (first + timedelta(days=2), OverrideKind.EXTRA_HOURS, time(18), time(20)),
        (last + timedelta(days=1), OverrideKind.EXTRA_HOURS, time(7), time(8)),
        (last + timedelta(days=2), OverrideKind.EXTRA_HOURS, time(7), time(8)),  # too late
    ]:
        AvailabilityOverride.objects.create(
            physician=doctor, date=day, kind=kind, start_time=start, end_time=end
        )
    range_start = datetime.combine(first, time(12), tzinfo=UTC)
    range_end = datetime.combine(last, time(12), tzinfo=UTC)
    expected_rules = {
        0: [(time(8, 30), time(12, 15, 30))],
        2: [(time(8, 30), time(12, 15, 30)), (time(13), time(17, 45))],
    }
    expected_overrides: dict[date, list[tuple[str, time | None, time | None]]] = {
        first - timedelta(days=1): [(OverrideKind.TIME_OFF, None, None)],
        first + timedelta(days=2): [
            (OverrideKind.TIME_OFF, time(9), time(10, 0, 0, 500)),
            (OverrideKind.EXTRA_HOURS, time(18), time(20)),
        ],
        last + timedelta(days=1): [(OverrideKind.EXTRA_HOURS, time(7), time(8))],
    }
    for only in (None, doctor):
        found = candidates("FL", range_start, range_end, only)
        assert [d.pk for d in found.physicians] == [doctor.pk]
        assert {k: sorted(v) for k, v in found.rules[doctor.pk].items()} == expected_rules
        overrides = {k: sorted(v, key=str) for k, v in found.overrides[doctor.pk].items()}
        assert overrides == {k: sorted(v, key=str) for k, v in expected_overrides.items()}

"""The slot search's candidates: the physicians who may treat in the patient's state on
some day of the range, and `physician_authority` asked for them day by day.

physician_authority stays the one licence rule; what it is given here is only what it
reads of a physician (the account's `is_active` and each credential's `.all()`), from
plain rows of the credentials in the state. One model instance per credential and three
related-manager querysets per physician cost a 30-day search more than its arithmetic.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, cast

from accounts.models import (
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    StateLicense,
    User,
)
from accounts.selectors import physician_authority
from core.clock import practice_date


class _Listed:
    """A related manager's `.all()` over rows already read."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def all(self) -> list[Any]:
        return self.rows


class _Credentialed:
    """What physician_authority reads of a physician: the account (for `is_active`) and
    the credentials in the state, as rows with the columns it compares."""

    def __init__(self, user: User, licenses: list[Any], deas: list[Any], cdss: list[Any]) -> None:
        self.user = user
        self.licenses = _Listed(licenses)
        self.dea_registrations = _Listed(deas)
        self.cds_registrations = _Listed(cdss)


# What the search reads of a physician: the name, the account's state and public id, the
# schedule's zone, buffer and title (physician_authority, physician_shown, windows_of).
# The rest (the encrypted email, the password, timestamps) is read only if asked for.
_SHOWN = (
    "first_name",
    "last_name",
    "user",
    "user__is_active",
    "user__public_id",
    "schedule__time_zone",
    "schedule__buffer_minutes",
    "schedule__title",
)

# The columns physician_authority reads of each credential (and the physician, to group).
_LICENSE = ("physician_id", "state", "status", "expires_on")
_DEA = ("physician_id", "state", "verification", "expires_on", "schedules")
_CDS = ("physician_id", "state", "status", "expires_on")


def candidates(
    state: str, range_start: datetime, range_end: datetime, physician: PhysicianProfile | None
) -> tuple[list[PhysicianProfile], dict[int, Treats]]:
    """Physicians with a license in `state` that is active and unexpired on some day of
    the range (physician_authority then decides day by day), with what the search reads
    of them and of their account and schedule; and for each,
    physician_authority's answer by day over their credentials in `state`."""
    licensed = StateLicense.objects.filter(
        state=state, status=LicenseStatus.ACTIVE, expires_on__gte=practice_date(range_start)
    )
    doctors = PhysicianProfile.objects.filter(
        pk__in=licensed.values("physician_id"), user__is_active=True
    )
    if physician is not None:
        doctors = doctors.filter(pk=physician.pk)
    found = list(doctors.select_related("user", "schedule").only(*_SHOWN).order_by("pk"))
    ids = [doctor.pk for doctor in found]
    rows: list[dict[int, list[Any]]] = []
    for model, columns in (
        (StateLicense, _LICENSE),
        (DeaRegistration, _DEA),
        (CdsRegistration, _CDS),
    ):
        by_physician: dict[int, list[Any]] = defaultdict(list)
        credentials = model.objects.filter(physician_id__in=ids, state=state)
        for row in credentials.values_list(*columns, named=True):
            by_physician[row.physician_id].append(row)
        rows.append(by_physician)
    licenses, deas, cdss = rows
    treats = {
        doctor.pk: Treats(
            _Credentialed(doctor.user, licenses[doctor.pk], deas[doctor.pk], cdss[doctor.pk]),
            state,
        )
        for doctor in found
    }
    return found, treats


class Treats:
    """physician_authority(doctor, state, on=day).may_treat, asked once per stretch of
    days. The rule reads the day only by comparing it with the credentials' expiry dates,
    so its answer cannot change between two consecutive days that lie on the same side of
    (or on) every such date: each stretch starts at such a date or the day after one.
    (Asked per day, a 30-day search made ~1,100 calls.)"""

    def __init__(self, doctor: PhysicianProfile | _Credentialed, state: str) -> None:
        self.doctor = cast(PhysicianProfile, doctor)
        self.state = state
        dates = set(_dates(doctor))
        self.starts = sorted(dates | {day + timedelta(days=1) for day in dates})
        self.answers: dict[int, bool] = {}
        self.by_day: dict[date, bool] = {}

    def on(self, day: date) -> bool:
        answer = self.by_day.get(day)
        if answer is None:
            stretch = bisect.bisect_right(self.starts, day)
            if stretch not in self.answers:
                authority = physician_authority(self.doctor, self.state, on=day)
                self.answers[stretch] = authority.may_treat
            answer = self.by_day[day] = self.answers[stretch]
        return answer


def _dates(doctor: PhysicianProfile | _Credentialed) -> Iterable[date]:
    for credentials in (
        doctor.licenses.all(),
        doctor.dea_registrations.all(),
        doctor.cds_registrations.all(),
    ):
        for credential in credentials:
            yield credential.expires_on

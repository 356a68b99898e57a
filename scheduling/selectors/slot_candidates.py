"""The slot search's candidates: the physicians who may treat in the patient's state on
some day of the range, with what the search reads of them (account, schedule, weekly
hours, overrides around the range) and `physician_authority` asked for them day by day.

physician_authority stays the one licence rule; what it is given here is only what it
reads of a physician (the account's `is_active` and each credential's `.all()`), from
plain rows of the credentials in the state. One model instance per credential and three
related-manager querysets per physician cost a 30-day search more than its arithmetic.

All of it is one statement (the credentials, hours and overrides as arrays of JSON rows
per physician), the same for every search but for its values: compiled once per process
(core.compiled). The physicians are selected by subquery, not by a list of ids, so its
shape does not depend on how many there are.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final, NamedTuple, cast

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet
from django.db.models.functions import JSONObject

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
from core.compiled import CompiledOnce
from scheduling.models import AvailabilityOverride, WeeklyAvailability
from scheduling.selectors.office_hours import Hours, Overrides, overrides_from, rules_from


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


# The columns physician_authority reads of each credential.
class _License(NamedTuple):
    state: str
    status: str
    expires_on: date


class _Dea(NamedTuple):
    state: str
    verification: str
    expires_on: date
    schedules: list[str]


class Candidates(NamedTuple):
    physicians: list[PhysicianProfile]  # by pk
    treats: dict[int, Treats]
    rules: dict[int, Hours]  # office_hours' weekly rules by physician
    overrides: dict[int, Overrides]  # their overrides from the range's day before to after


def candidates(
    state: str, range_start: datetime, range_end: datetime, physician: PhysicianProfile | None
) -> Candidates:
    """Physicians with a license in `state` that is active and unexpired on some day of
    the range (physician_authority then decides day by day), or only `physician` if so;
    with what the search reads of them and of their account and schedule, their weekly
    hours and their overrides on the practice dates around the range; and for each,
    physician_authority's answer by day over their credentials in `state`."""
    return candidate_facts(candidates_found(state, range_start, range_end, physician), state)


def candidates_found(
    state: str, range_start: datetime, range_end: datetime, physician: PhysicianProfile | None
) -> list[PhysicianProfile]:
    """candidates' physicians, their credentials, rules and overrides as read (the JSON
    rows in `facts`): its statement alone, for a caller with work to do before the facts
    are parsed (candidate_facts)."""
    first_day, last_day = practice_date(range_start), practice_date(range_end)
    values = {
        "state": state,
        "first_day": first_day,
        "override_from": first_day - timedelta(days=1),
        "override_to": last_day + timedelta(days=1),
    }
    if physician is None:
        return _ALL.all(**values)
    return _ONE.all(physician_pk=physician.pk, **values)


def candidate_facts(found: list[PhysicianProfile], state: str) -> Candidates:
    """candidates from what candidates_found read."""
    treats, rules, overrides = {}, {}, {}
    for doctor in found:
        facts = cast(Any, doctor).facts
        licenses = [
            _License(row["state"], row["status"], date.fromisoformat(row["expires_on"]))
            for row in facts["licenses"]
        ]
        deas = [
            _Dea(
                row["state"],
                row["verification"],
                date.fromisoformat(row["expires_on"]),
                row["schedules"],
            )
            for row in facts["deas"]
        ]
        cdss = [
            _License(row["state"], row["status"], date.fromisoformat(row["expires_on"]))
            for row in facts["cdss"]
        ]
        treats[doctor.pk] = Treats(_Credentialed(doctor.user, licenses, deas, cdss), state)
        rules[doctor.pk] = rules_from(facts["rules"])
        overrides[doctor.pk] = overrides_from(facts["overrides"])
    return Candidates(found, treats, rules, overrides)


def candidates_queryset(
    *, state: str, first_day: date, override_from: date, override_to: date
) -> QuerySet[PhysicianProfile, Any]:
    """Physicians with an active license in `state` expiring on or after `first_day` and an
    active account, by pk, each with their credentials in `state`, weekly rules and the
    overrides from `override_from` to `override_to`, as arrays of JSON rows in `facts`."""
    licensed = StateLicense.objects.filter(
        state=state, status=LicenseStatus.ACTIVE, expires_on__gte=first_day
    )

    def rows(queryset: QuerySet[Any, Any], *columns: str, **named: str) -> ArraySubquery:
        mine = queryset.filter(physician=OuterRef("pk")).order_by()
        return ArraySubquery(mine.values(row=JSONObject(**{c: c for c in columns}, **named)))

    return (
        PhysicianProfile.objects.filter(
            pk__in=licensed.values("physician_id"), user__is_active=True
        )
        .select_related("user", "schedule")
        .only(*_SHOWN)
        .annotate(
            # One JSON object per physician (one decoding, not one per row).
            facts=JSONObject(
                licenses=rows(
                    StateLicense.objects.filter(state=state), "state", "status", "expires_on"
                ),
                deas=rows(
                    DeaRegistration.objects.filter(state=state),
                    "state",
                    "verification",
                    "expires_on",
                    "schedules",
                ),
                cdss=rows(
                    CdsRegistration.objects.filter(state=state), "state", "status", "expires_on"
                ),
                rules=rows(
                    WeeklyAvailability.objects.all(), "weekday", start="start_time", end="end_time"
                ),
                overrides=rows(
                    AvailabilityOverride.objects.filter(
                        date__gte=override_from, date__lte=override_to
                    ),
                    "date",
                    "kind",
                    start="start_time",
                    end="end_time",
                ),
            )
        )
        .order_by("pk")
    )


def one_candidate_queryset(*, physician_pk: int, **values: Any) -> QuerySet[PhysicianProfile, Any]:
    """candidates_queryset for one physician."""
    return candidates_queryset(**values).filter(pk=physician_pk)


def _stand_ins(n: int) -> dict[str, Any]:
    return {
        "state": f"Z{n}",
        "first_day": date(1910 + n, n, n),
        "override_from": date(1920 + n, n, n),
        "override_to": date(1930 + n, n, n),
    }


_ALL: Final = CompiledOnce(candidates_queryset, (_stand_ins(1), _stand_ins(2)))
_ONE: Final = CompiledOnce(
    one_candidate_queryset,
    (
        {"physician_pk": -1_000_001, **_stand_ins(1)},
        {"physician_pk": -1_000_002, **_stand_ins(2)},
    ),
)


class Treats:
    """physician_authority(doctor, state, on=day).may_treat, asked once per stretch of
    days. The rule reads the day only by comparing it with the credentials' expiry dates,
    so its answer cannot change between two consecutive days that lie on the same side of
    (or on) every such date: each stretch starts at such a date or the day after one.
    (Asked per day, a 30-day search made ~1,100 calls.)"""

    def __init__(self, doctor: _Credentialed, state: str) -> None:
        self.doctor = cast(PhysicianProfile, doctor)
        self.state = state
        dates = set(_dates(doctor))
        self.starts = sorted(dates | {day + timedelta(days=1) for day in dates})
        self.answers: dict[int, bool] = {}

    def on(self, day: date) -> bool:
        stretch = bisect.bisect_right(self.starts, day)
        if stretch not in self.answers:
            self.answers[stretch] = physician_authority(self.doctor, self.state, on=day).may_treat
        return self.answers[stretch]


def _dates(doctor: _Credentialed) -> Iterable[date]:
    for credentials in (
        doctor.licenses.all(),
        doctor.dea_registrations.all(),
        doctor.cds_registrations.all(),
    ):
        for credential in credentials:
            yield credential.expires_on

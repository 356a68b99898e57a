"""A physician's availability: schedule settings and public profile, weekly rules (replaced
as a whole set) and date overrides. Every write locks the physician's profile row, so two
writers for one physician run one after the other, and is audited.

The rules (`*_problems` functions) answer {field: [reasons]} and are shared with the
Django admin's forms, so the API and the admin refuse the same things. Field names are the
API's dotted paths (`weekly.2.end_time`)."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from accounts.models import PhysicianProfile, User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import Conflict, NotFound, ValidationFailed
from scheduling.models import (
    AvailabilityOverride,
    OverrideKind,
    PhysicianSchedule,
    WeeklyAvailability,
)
from scheduling.selectors.availability import physician_today
from scheduling.selectors.slot_cache import slots_changed

MAX_BUFFER_MINUTES = 120
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# In the tz database but not a place: the server's own zone and the placeholder.
_NOT_PLACES = frozenset({"localtime", "Factory"})
# Languages as ISO 639 codes ("en", "es", "ht"): the app shows them in the reader's language.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")

Problems = dict[str, list[str]]


@functools.cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_PLACES)


@dataclass(frozen=True)
class ScheduleSettings:
    """What a physician sets besides the weekly rules: how they are booked and shown."""

    time_zone: str
    buffer_minutes: int
    title: str = ""
    board_certification: str = ""
    languages: tuple[str, ...] = ()
    bio: str = ""
    photo_url: str = ""


@dataclass(frozen=True)
class WeeklyWindow:
    weekday: int  # 0 is Monday
    start_time: time
    end_time: time


@dataclass(frozen=True)
class OverrideRequest:
    date: date
    kind: str
    start_time: time | None = None
    end_time: time | None = None


def _describe(window: WeeklyWindow) -> str:
    return f"{WEEKDAYS[window.weekday]} {window.start_time:%H:%M}-{window.end_time:%H:%M}"


def schedule_settings_problems(settings: ScheduleSettings) -> Problems:
    problems: Problems = {}
    if settings.time_zone not in known_time_zones():
        problems["time_zone"] = ["Unknown time zone: use an IANA name such as America/Chicago."]
    if not 0 <= settings.buffer_minutes <= MAX_BUFFER_MINUTES:
        problems["buffer_minutes"] = [f"Between 0 and {MAX_BUFFER_MINUTES} minutes."]
    bad = [code for code in settings.languages if not LANGUAGE_CODE.fullmatch(code)]
    if bad:
        problems["profile.languages"] = [f"Not an ISO 639 language code: {bad[0]!r}."]
    if len(set(settings.languages)) != len(settings.languages):
        problems.setdefault("profile.languages", []).append("Each language once.")
    if settings.photo_url and urlsplit(settings.photo_url).scheme != "https":
        problems["profile.photo_url"] = ["Must be an https:// URL."]
    return problems


def weekly_rules_problems(windows: Sequence[WeeklyWindow], *, prefix: str = "weekly") -> Problems:
    """End after start; no two windows of one weekday overlap (windows that touch, 12:00
    end and 12:00 start, do not). The later item of an overlapping pair is named."""
    problems: Problems = {}
    for index, window in enumerate(windows):
        if not 0 <= window.weekday <= 6:
            problems[f"{prefix}.{index}.weekday"] = ["0 (Monday) to 6 (Sunday)."]
        elif window.end_time <= window.start_time:
            problems[f"{prefix}.{index}.end_time"] = ["Must be after the start time."]
    for index, window in enumerate(windows):
        if any(key.startswith(f"{prefix}.{index}.") for key in problems):
            continue
        for earlier_index, earlier in enumerate(windows[:index]):
            if (
                earlier.weekday == window.weekday
                and earlier.start_time < window.end_time
                and window.start_time < earlier.end_time
                and f"{prefix}.{earlier_index}.end_time" not in problems
            ):
                problems[f"{prefix}.{index}.start_time"] = [
                    f"Overlaps item {earlier_index} ({_describe(earlier)})."
                ]
                break
    return problems


def override_problems(
    request: OverrideRequest,
    *,
    today: date,
    existing: Sequence[AvailabilityOverride] = (),
) -> Problems:
    """Not in the past (the physician's today is fine); extra hours have both times; time
    off has both or neither (the whole day); end after start; extra hours on one date do
    not overlap each other."""
    problems: Problems = {}
    if request.date < today:
        problems["date"] = ["Overrides in the past cannot be added."]
    start, end = request.start_time, request.end_time
    if request.kind == OverrideKind.EXTRA_HOURS and (start is None or end is None):
        for name, value in (("start_time", start), ("end_time", end)):
            if value is None:
                problems[name] = ["Extra hours need a start and an end time."]
    elif (start is None) != (end is None):
        missing = "end_time" if end is None else "start_time"
        problems[missing] = ["Give both times, or neither for the whole day."]
    elif start is not None and end is not None and end <= start:
        problems["end_time"] = ["Must be after the start time."]
    if problems or request.kind != OverrideKind.EXTRA_HOURS:
        return problems
    assert start is not None and end is not None
    for other in existing:
        if (
            other.kind == OverrideKind.EXTRA_HOURS
            and other.date == request.date
            and other.start_time is not None
            and other.end_time is not None
            and other.start_time < end
            and start < other.end_time
        ):
            problems["start_time"] = [
                f"Overlaps extra hours {other.start_time:%H:%M}-{other.end_time:%H:%M} "
                "on that date."
            ]
            break
    return problems


def _lock(physician: PhysicianProfile) -> None:
    PhysicianProfile.objects.select_for_update().filter(pk=physician.pk).first()


@transaction.atomic
def physician_schedule_replace(
    *,
    actor: User,
    physician: PhysicianProfile,
    settings: ScheduleSettings,
    weekly: Sequence[WeeklyWindow],
) -> PhysicianSchedule:
    """PUT semantics: the settings, profile and weekly rules given become the schedule,
    all or nothing. 400 with every invalid field."""
    problems = schedule_settings_problems(settings) | weekly_rules_problems(weekly)
    if problems:
        raise ValidationFailed(fields=problems)
    _lock(physician)
    values: dict[str, Any] = {
        "time_zone": settings.time_zone,
        "buffer_minutes": settings.buffer_minutes,
        "title": settings.title,
        "board_certification": settings.board_certification,
        "languages": list(settings.languages),
        "bio": settings.bio,
        "photo_url": settings.photo_url,
    }
    schedule = PhysicianSchedule.objects.filter(physician=physician).first()
    created = schedule is None
    if schedule is None:
        schedule = PhysicianSchedule(physician=physician)
    changed = sorted(name for name, value in values.items() if getattr(schedule, name) != value)
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.save()

    wanted = sorted((w.weekday, w.start_time, w.end_time) for w in weekly)
    current = sorted(
        WeeklyAvailability.objects.filter(physician=physician).values_list(
            "weekday", "start_time", "end_time"
        )
    )
    if wanted != current:
        WeeklyAvailability.objects.filter(physician=physician).delete()
        WeeklyAvailability.objects.bulk_create(
            WeeklyAvailability(physician=physician, weekday=d, start_time=s, end_time=e)
            for d, s, e in wanted
        )
        changed.append("weekly")
    slots_changed()
    audit_write(
        schedule,
        actor=actor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        detail={
            "physician": str(physician.user.public_id),
            "fields": changed,
            "weekly_rules": len(wanted),
        },
    )
    return schedule


@transaction.atomic
def availability_override_add(
    *, actor: User, physician: PhysicianProfile, request: OverrideRequest
) -> AvailabilityOverride:
    """Time off (a whole day, or a window) or extra hours on one date in the physician's
    zone. 400 for a past date, missing or reversed times, or extra hours overlapping
    others on that date."""
    _lock(physician)
    existing = list(AvailabilityOverride.objects.filter(physician=physician, date=request.date))
    problems = override_problems(request, today=physician_today(physician), existing=existing)
    if problems:
        raise ValidationFailed(fields=problems)
    override = AvailabilityOverride.objects.create(
        physician=physician,
        date=request.date,
        kind=request.kind,
        start_time=request.start_time,
        end_time=request.end_time,
    )
    slots_changed()
    audit_write(
        override,
        actor=actor,
        action=AuditAction.CREATE,
        detail={"physician": str(physician.user.public_id), "kind": request.kind},
    )
    return override


@transaction.atomic
def availability_override_delete(
    *, actor: User, physician: PhysicianProfile, override_id: Any
) -> None:
    """404 for an override that is not this physician's; 409 `override_in_past` for one
    whose date has passed (the record of what was available stays)."""
    _lock(physician)
    override = AvailabilityOverride.objects.filter(
        physician=physician, public_id=override_id
    ).first()
    if override is None:
        raise NotFound("No such override.")
    if override.date < physician_today(physician):
        raise Conflict("Past overrides are kept.", code="override_in_past")
    audit_write(
        override,
        actor=actor,
        action=AuditAction.DELETE,
        detail={"physician": str(physician.user.public_id), "kind": override.kind},
    )
    override.delete()
    slots_changed()

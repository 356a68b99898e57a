"""A physician's office hours on their own calendar days: the weekly rules of the
weekday, unless the whole day is off, plus extra hours, minus time off, as UTC instants.
Wall-clock times become instants day by day in the physician's zone, so a window keeps
its wall-clock hours across DST changes and one spanning a change has its true length.
The slot search and booking's check read a physician's rules and overrides with the
physician, as JSON rows (`rules_from`, `overrides_from`)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from accounts.models import PhysicianProfile
from scheduling.models import OverrideKind
from scheduling.selectors.availability import physician_zone
from scheduling.selectors.slot_runs import microseconds_of

_Hours = tuple[time, time]
_Override = tuple[str, time | None, time | None]  # kind, start, end (None: the whole day)


Hours = dict[int, list[_Hours]]  # weekly rules by weekday
Overrides = dict[date, list[_Override]]  # overrides by date


def rules_from(rows: list[dict[str, Any]]) -> Hours:
    """One physician's weekly rules by weekday, from JSON rows {weekday, start, end}."""
    rules: Hours = {}
    for row in rows:
        hours = (time.fromisoformat(row["start"]), time.fromisoformat(row["end"]))
        rules.setdefault(row["weekday"], []).append(hours)
    return rules


def overrides_from(rows: list[dict[str, Any]]) -> Overrides:
    """One physician's overrides by date, from JSON rows {date, kind, start, end} (no
    start and end: the whole day)."""
    overrides: Overrides = {}
    for row in rows:
        entry = (row["kind"], _time(row["start"]), _time(row["end"]))
        overrides.setdefault(date.fromisoformat(row["date"]), []).append(entry)
    return overrides


def _time(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


KnownDays = dict[tuple[object, ...], list[tuple[int, int]]]


def windows_of(
    doctor: PhysicianProfile,
    rules: dict[int, list[_Hours]],
    overrides: dict[date, list[_Override]],
    range_start: datetime,
    range_end: datetime,
    known: KnownDays | None = None,
) -> list[tuple[int, int]]:
    """The physician's open hours (microseconds) on their own calendar days around
    [range_start, range_end), in order. `known`: what the same search already worked out
    (physicians often keep the same hours): a physician without overrides in the range
    shares the whole list with every one of the same zone and weekly hours, and a day is
    shared by zone, date, hours and overrides, so its zone conversions are made once, not
    once per physician."""
    zone = physician_zone(doctor)
    known = {} if known is None else known
    week = tuple(tuple(rules.get(weekday, ())) for weekday in range(7))
    whole_key = None if overrides else (zone.key, week, range_start, range_end)
    if whole_key is not None and (found := known.get(whole_key)) is not None:
        return found
    found = []
    day = range_start.astimezone(zone).date() - timedelta(days=1)
    last_day = range_end.astimezone(zone).date()
    while day <= last_day:
        day_rules, day_overrides = week[day.weekday()], tuple(overrides.get(day, ()))
        key = (zone.key, day, day_rules, day_overrides)
        day_windows = known.get(key)
        if day_windows is None:
            day_windows = known[key] = [
                (microseconds_of(window_start), microseconds_of(window_end))
                for window_start, window_end in windows(
                    list(day_rules), list(day_overrides), day, zone
                )
            ]
        found += day_windows
        day += timedelta(days=1)
    if whole_key is not None:
        known[whole_key] = found
    return found


def windows(
    rules: list[_Hours], overrides: list[_Override], day: date, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The physician's open hours on one of their own calendar days, as UTC instants:
    the weekly rules of its weekday (unless the whole day is off) plus extra hours, minus
    time off (`overrides`: those of that day)."""
    whole_day_off = any(
        kind == OverrideKind.TIME_OFF and start is None for kind, start, _ in overrides
    )
    wall: list[_Hours] = [] if whole_day_off else list(rules)
    wall += [
        (start, end)
        for kind, start, end in overrides
        if kind == OverrideKind.EXTRA_HOURS and start and end
    ]
    off = [
        (start, end)
        for kind, start, end in overrides
        if kind == OverrideKind.TIME_OFF and start and end
    ]
    return _subtract(
        _merge([_instants(day, span, zone) for span in wall]),
        [_instants(day, span, zone) for span in off],
    )


def _instants(day: date, span: tuple[time, time], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Wall-clock times of one day as UTC instants. Stepping happens in UTC afterwards, so
    a window that spans a DST change has its true length."""
    start, end = span
    return (
        datetime.combine(day, start, tzinfo=zone).astimezone(ZoneInfo("UTC")),
        datetime.combine(day, end, tzinfo=zone).astimezone(ZoneInfo("UTC")),
    )


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _subtract(
    spans: list[tuple[datetime, datetime]], holes: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    for hole_start, hole_end in holes:
        spans = [
            piece
            for start, end in spans
            for piece in ((start, min(end, hole_start)), (max(start, hole_end), end))
            if piece[0] < piece[1]
        ]
    return spans

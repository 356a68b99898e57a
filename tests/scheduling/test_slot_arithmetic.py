"""The slot search's integer arithmetic agrees with the datetimes it replaces: the
practice date of an instant (license validity is decided on it) across both 2026 DST
changes, and the exact round trip of instants through microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import practice_date
from scheduling.selectors.slot_runs import instant_of as _instant
from scheduling.selectors.slot_runs import microseconds_of as _microseconds
from scheduling.selectors.slots import _PracticeCalendar


@pytest.mark.parametrize(
    "start",
    [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC)],
    ids=["spring", "fall"],
)
def test_practice_dates_by_bisection_match_practice_date(start):
    calendar = _PracticeCalendar(start, start + timedelta(days=5))
    instant = start - timedelta(days=1)
    while instant < start + timedelta(days=6):  # every 7 minutes, past the range too
        on, day_from, day_to = calendar.day_of(_microseconds(instant))
        assert on == practice_date(instant), instant
        assert day_from <= _microseconds(instant) < day_to
        instant += timedelta(minutes=7)


def test_instants_round_trip_through_microseconds_exactly():
    instant = datetime(2026, 3, 8, 3, 30, 15, 123456, tzinfo=ZoneInfo("America/New_York"))
    back = _instant(_microseconds(instant))
    assert back == instant
    assert back.tzinfo == ZoneInfo("UTC")
    assert _microseconds(instant) == int(instant.timestamp()) * 1_000_000 + 123456

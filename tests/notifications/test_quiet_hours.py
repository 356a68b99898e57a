"""Quiet hours in the recipient's own zone, Central and Eastern, across DST weekends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.rules import quiet_hours_release

CENTRAL, EASTERN = "America/Chicago", "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "now", "release"),
    [
        # Summer: CDT is UTC-5, EDT is UTC-4.
        (CENTRAL, utc(2026, 7, 15, 12, 30), utc(2026, 7, 15, 13, 0)),  # 7:30 -> 8:00 CDT
        (EASTERN, utc(2026, 7, 15, 11, 30), utc(2026, 7, 15, 12, 0)),  # 7:30 -> 8:00 EDT
        (CENTRAL, utc(2026, 7, 15, 13, 0), utc(2026, 7, 15, 13, 0)),  # 8:00 CDT: open
        (EASTERN, utc(2026, 7, 15, 23, 59), utc(2026, 7, 15, 23, 59)),  # 19:59 EDT: open
        (EASTERN, utc(2026, 7, 16, 0, 0), utc(2026, 7, 16, 12, 0)),  # 20:00 EDT -> next 8:00
        (CENTRAL, utc(2026, 7, 16, 0, 30), utc(2026, 7, 16, 0, 30)),  # 19:30 CDT: still open
        (CENTRAL, utc(2026, 7, 16, 1, 0), utc(2026, 7, 16, 13, 0)),  # 20:00 CDT -> next 8:00
        # Winter: CST is UTC-6, EST UTC-5.
        (CENTRAL, utc(2026, 1, 10, 13, 0), utc(2026, 1, 10, 14, 0)),  # 7:00 CST -> 8:00
        (EASTERN, utc(2026, 1, 10, 4, 0), utc(2026, 1, 10, 13, 0)),  # 23:00 EST -> 8:00
    ],
)
def test_window_in_local_time(zone, now, release):
    assert quiet_hours_release(now, zone) == release


def test_spring_forward_weekend():
    # Saturday 7 March 2026, 21:00 CST / 22:00 EST; clocks go forward overnight.
    saturday_night = utc(2026, 3, 8, 3, 0)
    assert quiet_hours_release(saturday_night, CENTRAL) == utc(2026, 3, 8, 13, 0)  # 8:00 CDT
    assert quiet_hours_release(saturday_night, EASTERN) == utc(2026, 3, 8, 12, 0)  # 8:00 EDT


def test_fall_back_weekend():
    # Saturday 31 October 2026, 23:00 CDT / Sunday 00:00 EDT; clocks go back overnight.
    saturday_night = utc(2026, 11, 1, 4, 0)
    assert quiet_hours_release(saturday_night, CENTRAL) == utc(2026, 11, 1, 14, 0)  # 8:00 CST
    assert quiet_hours_release(saturday_night, EASTERN) == utc(2026, 11, 1, 13, 0)  # 8:00 EST


def test_unknown_zone_means_eastern_from_nine():
    eight_thirty_eastern = utc(2026, 7, 15, 12, 30)
    assert quiet_hours_release(eight_thirty_eastern, None) == utc(2026, 7, 15, 13, 0)
    assert quiet_hours_release(eight_thirty_eastern, EASTERN) == eight_thirty_eastern


def test_window_follows_settings(settings):
    settings.NOTIFY_QUIET_START_HOUR, settings.NOTIFY_QUIET_END_HOUR = 10, 18
    assert quiet_hours_release(utc(2026, 7, 15, 13, 0), EASTERN) == utc(2026, 7, 15, 14, 0)
    assert quiet_hours_release(utc(2026, 7, 15, 22, 0), EASTERN) == utc(2026, 7, 16, 14, 0)


@pytest.mark.parametrize("bogus", ["Mars/Olympus", "America/Atlantis", "../../etc/passwd", "UTC+3"])
def test_a_zone_name_that_is_not_a_zone_means_the_unknown_zone_rule(bogus):
    for now in (utc(2026, 7, 15, 12, 30), utc(2026, 7, 15, 16, 0), utc(2026, 1, 10, 4, 0)):
        assert quiet_hours_release(now, bogus) == quiet_hours_release(now, None)

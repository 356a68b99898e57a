"""When a message may go out: quiet hours in the recipient's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

UNKNOWN_ZONE = "America/New_York"


def quiet_hours_release(now: datetime, zone_name: str | None) -> datetime:
    """`now` when it is inside the sending window, else the start of the next window.

    The window is 8am-8pm local (settings); with no known zone, Eastern and a 9am start.
    Computed on local wall-clock dates, so it is right across DST changes.
    """
    zone = ZoneInfo(zone_name or UNKNOWN_ZONE)
    start_hour = (
        settings.NOTIFY_QUIET_START_HOUR if zone_name else settings.NOTIFY_UNKNOWN_TZ_START_HOUR
    )
    local = now.astimezone(zone)
    if start_hour <= local.hour < settings.NOTIFY_QUIET_END_HOUR:
        return now
    day = local.date() if local.hour < start_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start_hour), tzinfo=zone)

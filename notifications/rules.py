"""Whether and when a message may go out: consent, and quiet hours in the recipient's own
time zone."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from notifications.models import Category, Channel, Consent

logger = logging.getLogger(__name__)

UNKNOWN_ZONE = "America/New_York"


@functools.lru_cache(maxsize=64)
def _zone(zone_name: str) -> ZoneInfo | None:
    """The zone named `zone_name`, or None when it is not a zone this system knows."""
    try:
        return ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: malformed keys ("../x", "")
        logger.warning("unknown time zone on a patient record; using the unknown-zone rule")
        return None


def quiet_hours_release(now: datetime, zone_name: str | None) -> datetime:
    """`now` when it is inside the sending window, else the start of the next window.

    The window is 8am-8pm local (settings); with no known zone (missing, or a name that is
    not a real zone), Eastern and a 9am start. Computed on local wall-clock dates, so it is
    right across DST changes.
    """
    zone = _zone(zone_name) if zone_name else None
    if zone is None:
        zone, start_hour = ZoneInfo(UNKNOWN_ZONE), settings.NOTIFY_UNKNOWN_TZ_START_HOUR
    else:
        start_hour = settings.NOTIFY_QUIET_START_HOUR
    local = now.astimezone(zone)
    if start_hour <= local.hour < settings.NOTIFY_QUIET_END_HOUR:
        return now
    day = local.date() if local.hour < start_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start_hour), tzinfo=zone)


def consent_allows(consent: Consent | None, *, channel: str, category: str) -> bool:
    """Texts need a recorded consent for their category; marketing needs one on every
    channel; care and billing email is transactional and goes unless withdrawn. A
    verification code was asked for by the recipient a moment ago: it needs no consent
    (an opted-out number is still refused, by the dispatcher)."""
    if category == Category.VERIFICATION:
        return True
    if consent is not None:
        return consent.granted
    return channel == Channel.EMAIL and category != Category.MARKETING

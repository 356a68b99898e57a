"""The practice's calendar: what "today" means for license expiry, ages and due dates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def practice_today() -> date:
    return timezone.localdate(timezone=ZoneInfo(settings.PRACTICE_TIME_ZONE))


def practice_date(instant: datetime) -> date:
    """The practice calendar's date at `instant` (the date a license must be valid on)."""
    return timezone.localdate(instant, timezone=ZoneInfo(settings.PRACTICE_TIME_ZONE))

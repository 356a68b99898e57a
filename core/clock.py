"""The practice's calendar: what "today" means for license expiry, ages and due dates."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def practice_today() -> date:
    return timezone.localdate(timezone=ZoneInfo(settings.PRACTICE_TIME_ZONE))

"""What the calendar and iCal tests share: wall-clock instants and a parsed feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

AUDIT_INSERT = "INSERT INTO audit_auditevent"


def wall(text: str, zone: str) -> datetime:
    """ "2026-11-01 09:00" on the clock in `zone`, as an aware instant."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def events_of(response: Any) -> list[Any]:
    """The VEVENTs of a feed response, parsed back with icalendar."""
    return list(Calendar.from_ical(response.content).walk("VEVENT"))


def counted(call: Any) -> tuple[Any, int, int]:
    """call()'s result, how many queries it ran and how many were audit INSERTs."""
    with CaptureQueriesContext(connection) as queries:
        result = call()
    sqls = [query["sql"] for query in queries.captured_queries]
    return result, len(sqls), sum(AUDIT_INSERT in sql for sql in sqls)

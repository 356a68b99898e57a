"""core.api.iso_utc writes an instant exactly as DRF's DateTimeField does in the API's zone
(UTC): the hot paths' plain JSON values must not differ from the documented serializers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from rest_framework import serializers

from core.api import iso_utc

INSTANTS = [
    datetime(2026, 12, 2, 6, 30, tzinfo=UTC),  # no microseconds: none written
    datetime(2026, 12, 2, 6, 30, 5, 120000, tzinfo=UTC),
    datetime(2026, 12, 2, 6, 30, 5, 1, tzinfo=ZoneInfo("UTC")),  # another UTC object
    datetime(2026, 3, 8, 1, 59, 59, tzinfo=ZoneInfo("America/New_York")),  # before DST
    datetime(2026, 3, 8, 3, 0, tzinfo=ZoneInfo("America/New_York")),  # after DST
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/Chicago")),  # repeated hour
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("value", INSTANTS, ids=str)
def test_iso_utc_writes_what_drf_writes(value):
    assert iso_utc(value) == serializers.DateTimeField().to_representation(value)
    assert iso_utc(value).endswith("Z")


def test_none_is_null():
    assert iso_utc(None) is None

"""core.renderers.JSONRenderer writes exactly the bytes DRF's JSONRenderer writes: for every
kind of value a view or serializer hands it, and for values drawn at random."""

from __future__ import annotations

import decimal
import ipaddress
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import renderers, serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from accounts.models import Role
from core.renderers import JSONRenderer

_SERIALIZER: serializers.Serializer[None] = serializers.Serializer()

VALUES = [
    {"count": 3, "next": None, "results": [1, 2.5, True, False, None, "é", "日本"]},
    datetime(2026, 12, 2, 6, 30, tzinfo=UTC),
    datetime(2026, 12, 2, 6, 30, 5, 120000, tzinfo=ZoneInfo("UTC")),
    datetime(2026, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/London")),  # offset zero, not UTC
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/Chicago")),
    datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    datetime(2026, 12, 2, 6, 30),  # naive
    datetime(999, 1, 1, tzinfo=UTC),
    date(2026, 2, 28),
    time(10, 30),
    time(10, 30, 0, 5),
    timedelta(minutes=90),
    decimal.Decimal("250.00"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    ipaddress.ip_address("127.0.0.1"),
    gettext_lazy("This field is required."),
    ErrorDetail("Must be true or false.", code="invalid"),
    Role.PATIENT,  # a TextChoices member: a str
    {2: "a", 2.5: "b", True: "c", None: "d"},  # keys json.dumps writes as strings
    ReturnDict({"a": [ReturnList([1], serializer=_SERIALIZER)]}, serializer=_SERIALIZER),
    (1, (2, 3)),
    "line\u2028separator\u2029paragraph",
    b"bytes",
    1e16,
    1.5e-4,
    -0.0,
    2**64,  # beyond orjson: DRF's renderer writes it
    -(2**63),
    {"set": {1}},
]


def drf(data, media_type="application/json"):
    return renderers.JSONRenderer().render(data, media_type, {})


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_writes_what_drf_writes(value):
    assert JSONRenderer().render(value, "application/json", {}) == drf(value)
    nested = {"value": value, "list": [value]}
    assert JSONRenderer().render(nested, "application/json", {}) == drf(nested)


def test_an_indent_asked_for_and_none_are_drfs():
    media_type = "application/json; indent=4"
    data = {"a": [1, {"b": None}]}
    assert JSONRenderer().render(data, media_type, {}) == drf(data, media_type)
    assert JSONRenderer().render(None, "application/json", {}) == b""


def test_an_offset_with_seconds_is_written_to_the_minute():
    local_mean_time = datetime(1883, 11, 18, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    assert drf(local_mean_time) == b'"1883-11-18T12:00:00-04:56:02"'
    assert JSONRenderer().render(local_mean_time, "application/json", {}) == (
        b'"1883-11-18T12:00:00-04:56"'
    )


def test_a_float_under_1e_4_is_the_same_number_in_another_form():
    for tiny, written in ((1e-05, b"0.00001"), (1.5e-07, b"1.5e-7"), (-5e-324, b"-5e-324")):
        assert JSONRenderer().render(tiny, "application/json", {}) == written
        assert json.loads(written) == tiny


def test_what_drf_cannot_write_fails_as_in_drf():
    aware_time = time(10, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        drf(aware_time)
    with pytest.raises(ValueError):
        JSONRenderer().render(aware_time, "application/json", {})
    with pytest.raises(TypeError):
        JSONRenderer().render(object(), "application/json", {})


_zones = st.sampled_from(
    [UTC, ZoneInfo("America/New_York"), ZoneInfo("America/Chicago"), ZoneInfo("Europe/London")]
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not 0 < abs(x) < 1e-4)
    | st.text()
    | st.uuids()
    | st.dates()
    | st.datetimes(min_value=datetime(1900, 1, 1), timezones=_zones)  # no seconds offsets
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_random_values_are_written_as_drf_writes_them(value):
    assert JSONRenderer().render(value, "application/json", {}) == drf(value)

"""The throttle's counter: INCR + EXPIRE in one round trip on a pooled connection."""

from __future__ import annotations

import uuid

import pytest
import redis

from core.throttling import redis_client, window_count


@pytest.fixture
def counter():
    key = f"test:throttle:{uuid.uuid4().hex}"
    yield key
    redis_client().delete(key)


def test_each_call_counts_one_more_and_the_counter_expires_with_its_window(counter):
    assert [window_count(counter, 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < redis_client().ttl(counter) <= 60


def test_an_error_reply_leaves_no_unread_reply_for_the_next_call(counter):
    redis_client().set(counter, "not a number")
    with pytest.raises(redis.ResponseError):
        window_count(counter, 60)
    other = f"{counter}:other"
    try:
        # The EXPIRE's reply of the failed call must not be read as this call's INCR.
        assert [window_count(other, 60) for _ in range(2)] == [1, 2]
        assert redis_client().ping()
    finally:
        redis_client().delete(other)

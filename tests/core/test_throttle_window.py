"""The counter behind the request throttle and the sign-in and MFA attempt limits."""

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
    assert window_count(counter, 60) == 1
    redis_client().expire(counter, 5)
    # The window is the first count's: later counts do not extend it.
    assert [window_count(counter, 60) for _ in range(2)] == [2, 3]
    assert 0 < redis_client().ttl(counter) <= 5


def test_an_error_reply_leaves_the_client_usable(counter):
    redis_client().set(counter, "not a number")
    with pytest.raises(redis.ResponseError):
        window_count(counter, 60)
    other = f"{counter}:other"
    try:
        assert [window_count(other, 60) for _ in range(2)] == [1, 2]
        assert redis_client().ping()
    finally:
        redis_client().delete(other)

"""The per-user (per-IP when anonymous) request rate every endpoint has.

DRF's own UserRateThrottle keeps a pickled list of request times per user in the cache:
a read and a write through Django's Redis client on every request, which cost more than
the rest of a small authenticated request (see benchmarks/). This one counts requests in
a fixed window with one pipelined INCR + EXPIRE: one round trip, no pickling. A fixed
window lets a client spend up to twice the rate across a window boundary, which is fine
for a limit meant to stop runaway clients, not to meter them.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework import throttling


@functools.cache
def redis_client() -> redis.Redis:
    """The Redis behind Django's default cache (CACHES uses REDIS_URL), for what the cache
    API cannot do in one round trip."""
    return redis.Redis.from_url(settings.REDIS_URL)


@receiver(setting_changed)
def _redis_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "REDIS_URL":
        redis_client.cache_clear()


def window_count(counter: str, duration: int) -> int:
    """INCR `counter` and EXPIRE it after `duration` seconds, in one round trip; the count.

    What a non-transactional pipeline sends, written straight to a pooled connection: the
    pipeline's per-call bookkeeping cost about half as much again as the round trip itself
    (see benchmarks/). Connection errors are retried as the client retries them; after any
    error the connection is closed, so no unread reply is left on it."""
    pool = redis_client().connection_pool
    conn = pool.get_connection()
    try:
        return int(
            conn.retry.call_with_retry(
                lambda: _incr_expire(conn, counter, duration), lambda _error: conn.disconnect()
            )
        )
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def _incr_expire(conn: Any, counter: str, duration: int) -> Any:
    conn.send_packed_command(conn.pack_commands([("INCR", counter), ("EXPIRE", counter, duration)]))
    count = conn.read_response()
    conn.read_response()
    return count


class UserRateThrottle(throttling.UserRateThrottle):
    window_ends: float = 0.0

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, duration = self.parse_rate(self.rate)
        if limit is None or duration is None:
            return True
        now = self.timer()
        window = int(now // duration)
        self.window_ends = (window + 1) * duration
        counter = f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:{key}:{window}"
        return window_count(counter, duration) <= limit

    def wait(self) -> float:
        return max(self.window_ends - self.timer(), 0.0)

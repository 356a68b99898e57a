"""The per-user (per-IP when anonymous) request rate every endpoint has.

DRF's own UserRateThrottle keeps a pickled list of request times per user in the cache:
a read and a write through Django's Redis client on every request, which cost more than
the rest of a small authenticated request (see benchmarks/). This one counts requests in
a fixed window with one atomic INCR (and EXPIRE on the first): one round trip, no
pickling. A fixed window lets a client spend up to twice the rate across a window
boundary, which is fine for a limit meant to stop runaway clients, not to meter them.
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
        _count_script.cache_clear()


# Atomic, and one round trip (EVALSHA) with none of a pipeline's bookkeeping.
_COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@functools.cache
def _count_script() -> Any:
    return redis_client().register_script(_COUNT_IN_WINDOW)


def window_count(counter: str, seconds: int) -> int:
    """Count one more under the Redis key `counter`, which expires `seconds` after its
    first count; the count so far."""
    return int(_count_script()(keys=[counter], args=[seconds]))


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

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Throttle counters live in Redis: every test starts with none."""
    cache.clear()
    yield


@pytest.fixture
def api() -> APIClient:
    return APIClient()


from tests.actors import *  # noqa: E402,F403

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Throttle counters live in Redis: every test starts with none."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _sms_outbox(settings: Any) -> Iterator[list[Any]]:
    """Every test sends texts to the in-memory outbox, emptied first."""
    from notifications.sms import locmem

    settings.SMS_BACKEND = "notifications.sms.locmem.LocmemSmsBackend"
    locmem.outbox.clear()
    yield locmem.outbox


@pytest.fixture
def sms_outbox(_sms_outbox: list[Any]) -> list[Any]:
    return _sms_outbox


@pytest.fixture
def api() -> APIClient:
    return APIClient()


from tests.actors import *  # noqa: E402,F403

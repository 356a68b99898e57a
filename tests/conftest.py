from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

# BEFORE TRUNCATE triggers that keep these tables append-only (audit and notifications
# migrations 0005), by table.
TRUNCATE_GUARDS = {
    "audit_auditevent": "audit_event_refuse_truncate",
    "notifications_consentevent": "notifications_consentevent_refuse_truncate",
}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django empties the tables with TRUNCATE after every transactional test (Django's
    flush), which the guards refuse: switch them off in this throwaway test database only.
    Nothing in the application does this, and the application role could not (only the
    table owner may). tests/audit/test_truncate.py switches them back on to test them."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table, trigger in TRUNCATE_GUARDS.items():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")


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

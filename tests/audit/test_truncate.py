"""TRUNCATE cannot empty the audit log or the consent history (row triggers do not fire on
TRUNCATE, so each table has a statement trigger of its own)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditEvent
from audit.services import audit_record
from notifications.models import ConsentEvent

pytestmark = pytest.mark.django_db

# The suite's flush switches these off (tests/conftest.py); each test here switches its
# table's back on inside the test's transaction, which rolls back afterwards.
GUARDS = [
    (AuditEvent, "audit_event_refuse_truncate"),
    (ConsentEvent, "notifications_consentevent_refuse_truncate"),
]


@pytest.mark.parametrize(("model", "trigger"), GUARDS, ids=["audit", "consent"])
def test_truncate_is_refused(model, trigger):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        audit_record(actor=None, action="login_failed")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK check pending
        refused = pytest.raises(DatabaseError, match="append-only: TRUNCATE refused")
        with refused, transaction.atomic():
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize(("model", "trigger"), GUARDS, ids=["audit", "consent"])
def test_the_guard_is_a_before_truncate_statement_trigger(model, trigger):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgtype FROM pg_trigger WHERE tgname = %s",
            [trigger],
        )
        [(table, tgtype)] = cursor.fetchall()
    assert table == model._meta.db_table
    # TRIGGER_TYPE_BEFORE (2) | TRIGGER_TYPE_TRUNCATE (32); not ROW (1).
    assert tgtype & 0b100011 == 0b100010

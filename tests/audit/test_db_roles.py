"""manage.py db_roles: the role it creates can append to the audit log and seal it, and
nothing else there; it can use the other tables normally and truncate none."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditEvent
from audit.services import audit_record

pytestmark = pytest.mark.django_db


def refused(cursor, sql: str, params: list | None = None) -> bool:
    try:
        with transaction.atomic():
            cursor.execute(sql, params)
    except DatabaseError as error:
        return "permission denied" in str(error)
    return False


def test_the_printed_role_may_append_and_seal_but_not_rewrite_or_erase(patient):
    audit_record(actor=None, action="login_failed")
    row = AuditEvent.objects.get()
    role = f"app_{uuid.uuid4().hex[:12]}"
    out = io.StringIO()
    call_command("db_roles", "--role", role, stdout=out)
    sql = out.getvalue()
    assert "TRUNCATE" not in sql
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)  # in the test's transaction: rolled back, role included
        cursor.execute(f"SET LOCAL ROLE {role}")
        cursor.execute("INSERT INTO audit_auditevent (occurred_at, actor_role, action,"
                       " object_type, object_id, request_id, user_agent, outcome, detail,"
                       " prev_hash, hash) VALUES (now(), '', 'read', '', '', '', '',"
                       " 'success', '{}', '', '')")  # fmt: skip
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone() == (2,)
        assert refused(cursor, "UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [row.pk])
        assert refused(cursor, "DELETE FROM audit_auditevent WHERE id = %s", [row.pk])
        assert refused(cursor, "TRUNCATE audit_auditevent")
        assert refused(cursor, "TRUNCATE accounts_user CASCADE")
        assert refused(cursor, "CREATE TABLE app_made (id int)")
        # The seal, the one UPDATE the application makes.
        with transaction.atomic():
            cursor.execute(
                "UPDATE audit_auditevent SET seq = 1, prev_hash = '', hash = 'h' WHERE id = %s",
                [row.pk],
            )
        # The other tables as usual.
        with transaction.atomic():
            cursor.execute("UPDATE accounts_user SET is_active = is_active")
        cursor.execute("RESET ROLE")

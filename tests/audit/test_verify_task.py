"""The daily audit_verify task: silent on an intact chain, an ERROR on a tampered row or a
missing anchored head."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.db import connection

from audit.models import AuditAction, AuditEvent
from audit.services import audit_record, audit_seal_chain
from audit.tasks import anchor_audit_chain, verify_audit_chain

pytestmark = pytest.mark.django_db


def sealed_rows(n: int) -> None:
    for i in range(n):
        audit_record(actor=None, action=AuditAction.READ, object_type="t.x", object_id=str(i))
    audit_seal_chain()


def behind_the_triggers_back(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_beat_runs_it_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-verify-chain"]
    assert entry == {"task": "audit.tasks.verify_audit_chain", "schedule": 86400.0}


def test_an_intact_chain_logs_no_error(caplog):
    sealed_rows(3)
    anchor_audit_chain()
    assert verify_audit_chain() is True
    assert errors(caplog) == []


def test_a_tampered_row_logs_an_error(caplog):
    sealed_rows(3)
    behind_the_triggers_back("UPDATE audit_auditevent SET object_id = 'forged' WHERE seq = 2")
    assert verify_audit_chain() is False
    tampered = AuditEvent.objects.get(seq=2).pk
    assert errors(caplog) == [f"audit chain broken at seq 2 (event id {tampered})"]


def test_deleting_the_newest_rows_after_an_anchor_logs_an_error(caplog):
    sealed_rows(3)
    anchor_audit_chain()
    behind_the_triggers_back("DELETE FROM audit_auditevent WHERE seq = 3")
    assert verify_audit_chain() is False
    [message] = errors(caplog)
    assert "seq 3 of the anchor is gone" in message

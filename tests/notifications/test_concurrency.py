"""Exactly once under real concurrency on PostgreSQL: parallel dispatchers, a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.dispatch import OUTCOME_UNKNOWN, dispatch_due
from notifications.models import Message, MessageStatus
from tests.factories import PatientFactory
from tests.notifications.support import SEND_LOG, send_log

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recording(settings):
    settings.SMS_BACKEND = "tests.notifications.support.RecordingSmsBackend"
    redis.Redis.from_url(django_settings.REDIS_URL).delete(SEND_LOG)


def urgent_texts(count: int) -> list[Message]:
    """Urgent care texts (no quiet hours, no cap) to patients who can receive them.

    Scheduled for later and then made due, so the on-commit dispatch does not send them
    before the test runs its own dispatchers."""
    later = timezone.now() + timedelta(hours=1)
    messages = []
    for n in range(count):
        patient = PatientFactory()
        patient.set_phone(f"+1305555{n:04d}")
        patient.save()
        services.consents_set(
            user=patient.user,
            source="intake",
            changes=[services.ConsentChange("care", "sms", True)],
        )
        messages.append(
            services.message_schedule(
                recipient=patient.user,
                template_key="appointment_reminder",
                category="care",
                channel="sms",
                dedupe_key=f"m{n}",
                urgent=True,
                send_at=later,
            )
        )
    Message.objects.update(send_at=timezone.now())
    return messages


def test_parallel_dispatchers_send_each_message_once(recording, settings):
    settings.NOTIFY_BATCH_SIZE = 7
    messages = urgent_texts(60)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            dispatch_due()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    log = send_log()
    assert sorted(log) == sorted(str(m.public_id) for m in messages)  # each exactly once
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_worker_killed_mid_batch_never_sends_twice(recording, settings):
    settings.NOTIFY_BATCH_SIZE = 100
    messages = urgent_texts(40)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "SMS_BACKEND": "tests.notifications.support.SlowRecordingSmsBackend",
        "NOTIFY_BATCH_SIZE": "100",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from notifications.dispatch import dispatch_due; dispatch_due()",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while len(send_log()) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    sent_before_kill = send_log()
    assert 10 <= len(sent_before_kill) < 40, "the kill should land mid-batch"

    settings.NOTIFY_CLAIM_TIMEOUT = django_settings.NOTIFY_CLAIM_TIMEOUT * 0  # claims are stale now
    dispatch_due()

    log = send_log()
    assert len(log) == len(set(log)), "a message reached the provider twice"
    statuses = dict(Message.objects.values_list("public_id", "status"))
    unknown = Message.objects.filter(status=MessageStatus.FAILED, status_reason=OUTCOME_UNKNOWN)
    # At most the one message in flight at the kill is left undecided, and it is not resent.
    assert unknown.count() <= 1
    for message in messages:
        if statuses[message.public_id] == MessageStatus.SENT:
            assert log.count(str(message.public_id)) == 1
        else:
            assert message.pk in {m.pk for m in unknown}


def test_concurrent_scheduling_of_one_reminder_keeps_one_row(patient):
    start = threading.Barrier(4)
    ids: list[int] = []

    def schedule() -> None:
        try:
            start.wait()
            message = services.message_schedule(
                recipient=patient,
                template_key="appointment_reminder",
                category="care",
                channel="sms",
                dedupe_key="appointment:9:reminder-1h",
                send_at=timezone.now() + timedelta(hours=1),
            )
            ids.append(message.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=schedule) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(ids) == 4
    assert len(set(ids)) == 1
    assert Message.objects.count() == 1


def test_concurrent_rescheduling_of_a_canceled_reminder_revives_it_once(patient):
    key = "appointment:9:reminder-1h"
    original = services.message_schedule(
        recipient=patient,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key=key,
        send_at=timezone.now() + timedelta(hours=1),
    )
    services.messages_cancel(dedupe_prefix="appointment:9:")
    start = threading.Barrier(4)
    results: list[tuple[int, str, object]] = []
    errors: list[BaseException] = []

    def reschedule(hours: int) -> None:
        try:
            start.wait()
            message = services.message_schedule(
                recipient=patient,
                template_key="appointment_reminder",
                category="care",
                channel="sms",
                dedupe_key=key,
                send_at=timezone.now() + timedelta(hours=hours),
            )
            results.append((message.pk, message.status, message.send_at))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reschedule, args=(h,)) for h in (2, 3, 4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    (message,) = Message.objects.all()
    assert message.status == MessageStatus.SCHEDULED
    # Exactly one of the four revived it; the others got (and kept) what it scheduled.
    assert len(results) == 4
    assert set(results) == {(original.pk, MessageStatus.SCHEDULED, message.send_at)}
    assert message.send_at > original.send_at

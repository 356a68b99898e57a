"""A message past its `expires_at` is never sent: found due too late, held by quiet hours
until after it, started by a slow batch after it, or retried past it. It ends suppressed
with reason "expired"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications import dispatch, services
from notifications.dispatch import DispatchStats, dispatch_due
from notifications.errors import TransientSendError
from notifications.models import Message, MessageStatus
from tests.notifications import support

pytestmark = pytest.mark.django_db

# Wednesday 15 July 2026, 10:00 Central: inside the `patient` actor's sending window.
MIDDAY = datetime(2026, 7, 15, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(settings):
    settings.SMS_BACKEND = "tests.notifications.support.ScriptedSmsBackend"
    support.script.clear()
    support.sent.clear()
    with time_machine.travel(MIDDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def reachable(patient):
    patient.patient.set_phone("+13055550123")
    patient.patient.save()
    services.consents_set(
        user=patient, source="intake", changes=[services.ConsentChange("care", "sms", True)]
    )
    return patient


def reminder(user, *, expires_at, key="r1", **kwargs):
    return services.message_schedule(
        recipient=user,
        template_key="appointment_reminder",
        category="care",
        channel="sms",
        dedupe_key=key,
        context={"path": "/appointments/abc"},
        expires_at=expires_at,
        **kwargs,
    )


def state(message):
    message.refresh_from_db()
    return message.status, message.status_reason


def test_a_message_before_its_expiry_is_sent(reachable):
    message = reminder(reachable, expires_at=MIDDAY + timedelta(minutes=1))
    dispatch_due()
    assert state(message) == (MessageStatus.SENT, "")
    assert len(support.sent) == 1


@pytest.mark.parametrize("late_by", [timedelta(0), timedelta(minutes=5)])
def test_a_message_found_due_at_or_past_its_expiry_is_dropped(reachable, clock, late_by):
    message = reminder(
        reachable, expires_at=MIDDAY + timedelta(hours=1), send_at=MIDDAY + timedelta(minutes=30)
    )
    clock.move_to(MIDDAY + timedelta(hours=1) + late_by)  # the beat ran late
    stats = dispatch_due()
    assert state(message) == (MessageStatus.SUPPRESSED, "expired")
    assert message.suppressed_at is not None
    assert (stats.sent, stats.suppressed) == (0, 1)
    assert not support.sent


def test_a_message_quiet_hours_would_hold_past_its_expiry_is_dropped(reachable, clock):
    # 6:00 Central: quiet hours hold texts until 8:00 (13:00 UTC); the visit starts 7:30.
    clock.move_to(datetime(2026, 7, 15, 11, 0, tzinfo=UTC))
    dropped = reminder(reachable, key="a", expires_at=datetime(2026, 7, 15, 12, 30, tzinfo=UTC))
    held = reminder(reachable, key="b", expires_at=datetime(2026, 7, 15, 14, 0, tzinfo=UTC))
    dispatch_due()
    assert state(dropped) == (MessageStatus.SUPPRESSED, "expired")
    assert state(held) == (MessageStatus.SCHEDULED, "")
    assert held.send_at == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)
    clock.move_to(held.send_at)
    dispatch_due()
    assert state(held) == (MessageStatus.SENT, "")
    assert len(support.sent) == 1


def test_a_message_held_until_exactly_its_expiry_is_dropped(reachable, clock):
    clock.move_to(datetime(2026, 7, 15, 11, 0, tzinfo=UTC))
    message = reminder(reachable, expires_at=datetime(2026, 7, 15, 13, 0, tzinfo=UTC))
    dispatch_due()
    assert state(message) == (MessageStatus.SUPPRESSED, "expired")


def test_a_claimed_message_whose_send_would_start_after_its_expiry_is_dropped(reachable, clock):
    message = reminder(reachable, expires_at=MIDDAY + timedelta(minutes=1))
    stats = DispatchStats()
    _, claimed = dispatch._claim_batch(stats)
    assert [item.message.pk for item in claimed] == [message.pk]
    clock.move_to(MIDDAY + timedelta(minutes=2))  # a slow batch
    dispatch._deliver_batch(claimed, stats, deadline=float("inf"), may_stop=False)
    assert state(message) == (MessageStatus.SUPPRESSED, "expired")
    assert message.send_started_at is None
    assert not support.sent


def test_a_retry_that_lands_past_the_expiry_is_dropped(reachable, clock, settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 600
    message = reminder(reachable, expires_at=MIDDAY + timedelta(minutes=5))
    support.script.append(TransientSendError("busy", code="20429"))
    dispatch_due()
    assert state(message) == (MessageStatus.SCHEDULED, "transient_error")
    clock.move_to(message.send_at)
    dispatch_due()
    assert state(message) == (MessageStatus.SUPPRESSED, "expired")
    assert not support.sent


def test_no_expiry_means_the_message_waits_as_long_as_it_takes(reachable, clock):
    clock.move_to(datetime(2026, 7, 15, 11, 0, tzinfo=UTC))
    message = reminder(reachable, expires_at=None)
    dispatch_due()
    assert state(message) == (MessageStatus.SCHEDULED, "")


def test_scheduling_a_canceled_message_again_takes_the_new_expiry(reachable):
    first = reminder(reachable, expires_at=MIDDAY + timedelta(hours=1))
    services.messages_cancel(dedupe_prefix="r1")
    later = MIDDAY + timedelta(days=1)
    again = reminder(reachable, expires_at=later, send_at=later - timedelta(hours=1))
    assert again.pk == first.pk
    assert Message.objects.get(pk=first.pk).expires_at == later

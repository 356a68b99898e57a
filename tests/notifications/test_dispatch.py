"""The dispatcher: rules, outcomes, retries and idempotence (single process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import services
from notifications.dispatch import OUTCOME_UNKNOWN, dispatch_due, reclaim_abandoned
from notifications.models import Message, MessageStatus, PhoneStatus
from notifications.sms.base import (
    InvalidNumber,
    OptedOutNumber,
    PermanentSmsError,
    TransientSmsError,
    UncertainSmsError,
)
from notifications.tasks import dispatch_due_messages
from tests.notifications import backends

pytestmark = pytest.mark.django_db

# Wednesday 15 July 2026, 11:00 Eastern / 10:00 Central: inside every sending window.
MIDDAY = datetime(2026, 7, 15, 15, 0, tzinfo=UTC)
PHONE = "+13055550123"


@pytest.fixture(autouse=True)
def scripted_backend(settings):
    settings.SMS_BACKEND = "tests.notifications.backends.ScriptedSmsBackend"
    backends.script.clear()
    backends.sent.clear()
    with time_machine.travel(MIDDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def reachable(patient):
    """The patient has a phone on file and consents to care and billing texts."""
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    services.consents_set(
        user=patient,
        source="intake",
        changes=[
            services.ConsentChange("care", "sms", True),
            services.ConsentChange("billing", "sms", True),
        ],
    )
    return patient


def schedule(user, key="r1", **kwargs):
    fields = {
        "template_key": "appointment_reminder",
        "category": "care",
        "channel": "sms",
        "context": {"path": "/appointments/abc"},
    } | kwargs
    return services.message_schedule(recipient=user, dedupe_key=key, **fields)


def refreshed(message):
    message.refresh_from_db()
    return message


def test_due_text_is_sent_with_a_generic_body_and_the_link(reachable, settings):
    message = schedule(reachable)
    stats = dispatch_due()
    assert stats.sent == 1
    assert refreshed(message).status == MessageStatus.SENT
    assert message.provider_message_id.startswith("SM")
    assert message.attempts == 1
    (sms,) = backends.sent
    assert sms.to == PHONE
    assert settings.PRACTICE_NAME in sms.body
    assert sms.body.endswith("/app/appointments/abc")
    assert sms.message_id == str(message.public_id)


def test_future_message_waits(reachable, scripted_backend):
    message = schedule(reachable, send_at=MIDDAY + timedelta(hours=1))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SCHEDULED
    scripted_backend.shift(timedelta(hours=1))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT


def test_scheduling_the_same_dedupe_key_twice_keeps_one(reachable):
    first = schedule(reachable, key="appointment:1:reminder-24h")
    second = schedule(
        reachable, key="appointment:1:reminder-24h", send_at=MIDDAY + timedelta(days=1)
    )
    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert refreshed(first).send_at == MIDDAY


def test_cancel_by_prefix_cancels_only_pending_matches(reachable):
    sent = schedule(reachable, key="appointment:1:confirm")
    dispatch_due()
    later = schedule(
        reachable, key="appointment:1:reminder-24h", send_at=MIDDAY + timedelta(days=1)
    )
    other = schedule(
        reachable, key="appointment:2:reminder-24h", send_at=MIDDAY + timedelta(days=1)
    )
    assert services.messages_cancel(dedupe_prefix="appointment:1:") == 1
    assert refreshed(later).status == MessageStatus.CANCELLED
    assert refreshed(sent).status == MessageStatus.SENT
    assert refreshed(other).status == MessageStatus.SCHEDULED


def test_text_without_consent_is_suppressed_with_reason(patient):
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    message = schedule(patient)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("suppressed", "no_consent")
    assert message.suppressed_at is not None
    assert not backends.sent


def test_marketing_needs_explicit_consent_even_by_email(reachable):
    news = schedule(
        reachable, key="news", template_key="news", category="marketing", channel="email"
    )
    care = schedule(reachable, key="care-mail", channel="email")
    dispatch_due()
    assert (refreshed(news).status, news.status_reason) == ("suppressed", "no_consent")
    assert refreshed(care).status == MessageStatus.SENT
    assert [m.to for m in mail.outbox] == [[reachable.email]]


def test_withdrawn_consent_suppresses_care_email(reachable):
    services.consents_set(
        user=reachable, source="app", changes=[services.ConsentChange("care", "email", False)]
    )
    message = schedule(reachable, channel="email")
    dispatch_due()
    assert refreshed(message).status_reason == "no_consent"


def test_text_to_patient_without_phone_is_suppressed(patient):
    services.consents_set(
        user=patient, source="app", changes=[services.ConsentChange("care", "sms", True)]
    )
    message = schedule(patient)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("suppressed", "no_phone")


def test_quiet_hours_defer_a_central_patient_until_eight_local(reachable, scripted_backend):
    scripted_backend.move_to(datetime(2026, 7, 15, 11, 0, tzinfo=UTC))  # 6:00 CDT
    message = schedule(reachable)
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SCHEDULED
    assert message.send_at == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)
    assert not backends.sent
    scripted_backend.move_to(message.send_at)
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT


def test_quiet_hours_use_the_patients_own_zone(reachable, other_patient, scripted_backend):
    # 7:30 Central is 8:30 Eastern: the Eastern patient gets it, the Central one waits.
    other_patient.patient.set_phone("+12015550111")
    other_patient.patient.save()
    services.consents_set(
        user=other_patient, source="app", changes=[services.ConsentChange("care", "sms", True)]
    )
    scripted_backend.move_to(datetime(2026, 7, 15, 12, 30, tzinfo=UTC))
    central = schedule(reachable, key="c")
    eastern = schedule(other_patient, key="e")
    dispatch_due()
    assert refreshed(central).status == MessageStatus.SCHEDULED
    assert refreshed(eastern).status == MessageStatus.SENT


def test_urgent_messages_ignore_quiet_hours(reachable, scripted_backend):
    scripted_backend.move_to(datetime(2026, 7, 15, 8, 0, tzinfo=UTC))  # 3:00 CDT
    message = schedule(reachable, urgent=True)
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT


def test_daily_cap_defers_the_fourth_message(reachable, settings, scripted_backend):
    settings.NOTIFY_DAILY_CAP = 3
    first = schedule(reachable, key="m0")
    for n in range(1, 4):
        scripted_backend.shift(timedelta(minutes=10))
        schedule(reachable, key=f"m{n}")
        dispatch_due()
    fourth = Message.objects.get(dedupe_key="m3")
    assert fourth.status == MessageStatus.SCHEDULED
    assert len(backends.sent) == 3
    # It goes once the first one is 24 hours old (10:00 Central is inside the window).
    assert fourth.send_at == refreshed(first).sent_at + timedelta(days=1)
    urgent = schedule(reachable, key="urgent", urgent=True)
    dispatch_due()
    assert refreshed(urgent).status == MessageStatus.SENT


def test_transient_error_retries_with_backoff_then_succeeds(reachable, scripted_backend):
    backends.script.extend([TransientSmsError("503", code="503")])
    message = schedule(reachable)
    assert dispatch_due().retried == 1
    assert refreshed(message).status == MessageStatus.SCHEDULED
    assert message.send_at == MIDDAY + timedelta(seconds=60)
    assert (message.attempts, message.provider_error_code) == (1, "503")
    scripted_backend.shift(timedelta(seconds=60))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT
    assert message.attempts == 2
    assert len(backends.sent) == 1


def test_backoff_doubles_and_gives_up_after_the_limit(reachable, settings, scripted_backend):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    backends.script.extend([TransientSmsError("down", code="network")] * 3)
    message = schedule(reachable)
    waits = []
    for _ in range(3):
        dispatch_due()
        refreshed(message)
        if message.status == MessageStatus.SCHEDULED:
            waits.append(message.send_at - timezone.now())
            scripted_backend.move_to(message.send_at)
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]
    assert (message.status, message.status_reason) == ("failed", "retries_exhausted")


def test_provider_opt_out_ends_the_message_and_blocks_the_number(reachable):
    backends.script.append(OptedOutNumber("opted out", code="21610"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", "opted_out")
    assert message.provider_error_code == "21610"
    assert PhoneStatus.objects.get().opted_out_at is not None
    later = schedule(reachable, key="later")
    dispatch_due()
    assert refreshed(later).status_reason == "opted_out"


def test_invalid_number_is_flagged(reachable):
    backends.script.append(InvalidNumber("bad number", code="21211"))
    message = schedule(reachable)
    dispatch_due()
    assert refreshed(message).status_reason == "invalid_number"
    assert PhoneStatus.objects.get().invalid_code == "21211"
    later = schedule(reachable, key="later")
    dispatch_due()
    assert refreshed(later).status_reason == "invalid_number"


def test_uncertain_outcome_is_never_retried(reachable):
    backends.script.append(UncertainSmsError("read timeout", code="timeout"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", OUTCOME_UNKNOWN)
    dispatch_due()
    assert not backends.sent


def test_permanent_error_ends_the_message(reachable):
    backends.script.append(PermanentSmsError("nope", code="21602"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", "permanent_error")


def test_dispatch_task_run_twice_sends_once(reachable):
    schedule(reachable)
    dispatch_due_messages()
    dispatch_due_messages()
    assert len(backends.sent) == 1


def test_abandoned_claim_before_the_provider_call_is_sent_once(reachable, scripted_backend):
    message = schedule(reachable)
    Message.objects.filter(pk=message.pk).update(status="claimed", claimed_at=MIDDAY, attempts=1)
    dispatch_due()
    assert refreshed(message).status == MessageStatus.CLAIMED  # not yet timed out
    scripted_backend.shift(timedelta(minutes=6))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT
    assert len(backends.sent) == 1


def test_abandoned_claim_after_the_provider_call_is_never_resent(reachable, scripted_backend):
    message = schedule(reachable)
    Message.objects.filter(pk=message.pk).update(
        status="claimed", claimed_at=MIDDAY, send_started_at=MIDDAY, attempts=1
    )
    scripted_backend.shift(timedelta(minutes=6))
    assert reclaim_abandoned() == 1
    assert (refreshed(message).status, message.status_reason) == ("failed", OUTCOME_UNKNOWN)
    dispatch_due()
    assert not backends.sent

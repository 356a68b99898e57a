"""The dispatcher: rules, outcomes, retries and idempotence (single process)."""

from __future__ import annotations

import ast
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications import dispatch, services
from notifications.dispatch import OUTCOME_UNKNOWN, dispatch_due, reclaim_abandoned
from notifications.errors import PermanentSendError, TransientSendError, UncertainSendError
from notifications.models import Message, MessageStatus, PhoneStatus
from notifications.rules import quiet_hours_release
from notifications.sms.base import InvalidNumber, OptedOutNumber
from notifications.tasks import dispatch_due_messages
from patients.models import Patient
from tests.notifications import support

pytestmark = pytest.mark.django_db

# Wednesday 15 July 2026, 11:00 Eastern / 10:00 Central: inside every sending window.
MIDDAY = datetime(2026, 7, 15, 15, 0, tzinfo=UTC)
PHONE = "+13055550123"


@pytest.fixture(autouse=True)
def scripted_backend(settings):
    settings.SMS_BACKEND = "tests.notifications.support.ScriptedSmsBackend"
    support.script.clear()
    support.sent.clear()
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
    (sms,) = support.sent
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
    assert refreshed(later).status == MessageStatus.CANCELED
    assert refreshed(sent).status == MessageStatus.SENT
    assert refreshed(other).status == MessageStatus.SCHEDULED


def test_text_without_consent_is_suppressed_with_reason(patient):
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    message = schedule(patient)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("suppressed", "no_consent")
    assert message.suppressed_at is not None
    assert not support.sent


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
    assert not support.sent
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
    assert len(support.sent) == 3
    # It goes once the first one is 24 hours old (10:00 Central is inside the window).
    assert fourth.send_at == refreshed(first).sent_at + timedelta(days=1)
    urgent = schedule(reachable, key="urgent", urgent=True)
    dispatch_due()
    assert refreshed(urgent).status == MessageStatus.SENT


def test_transient_error_retries_with_backoff_then_succeeds(reachable, scripted_backend):
    support.script.extend([TransientSendError("503", code="503")])
    message = schedule(reachable)
    assert dispatch_due().retried == 1
    assert refreshed(message).status == MessageStatus.SCHEDULED
    assert message.send_at == MIDDAY + timedelta(seconds=60)
    assert (message.attempts, message.provider_error_code) == (1, "503")
    scripted_backend.shift(timedelta(seconds=60))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT
    assert message.attempts == 2
    assert len(support.sent) == 1


def test_backoff_doubles_and_gives_up_after_the_limit(reachable, settings, scripted_backend):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    support.script.extend([TransientSendError("down", code="network")] * 3)
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
    support.script.append(OptedOutNumber("opted out", code="21610"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", "opted_out")
    assert message.provider_error_code == "21610"
    assert PhoneStatus.objects.get().opted_out_at is not None
    later = schedule(reachable, key="later")
    dispatch_due()
    assert refreshed(later).status_reason == "opted_out"


def test_invalid_number_is_flagged(reachable):
    support.script.append(InvalidNumber("bad number", code="21211"))
    message = schedule(reachable)
    dispatch_due()
    assert refreshed(message).status_reason == "invalid_number"
    assert PhoneStatus.objects.get().invalid_code == "21211"
    later = schedule(reachable, key="later")
    dispatch_due()
    assert refreshed(later).status_reason == "invalid_number"


def test_uncertain_outcome_is_never_retried(reachable):
    support.script.append(UncertainSendError("read timeout", code="timeout"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", OUTCOME_UNKNOWN)
    dispatch_due()
    assert not support.sent


def test_permanent_error_ends_the_message(reachable):
    support.script.append(PermanentSendError("nope", code="21602"))
    message = schedule(reachable)
    dispatch_due()
    assert (refreshed(message).status, message.status_reason) == ("failed", "permanent_error")


def test_dispatch_task_run_twice_sends_once(reachable):
    schedule(reachable)
    dispatch_due_messages()
    dispatch_due_messages()
    assert len(support.sent) == 1


def test_abandoned_claim_before_the_provider_call_is_sent_once(reachable, scripted_backend):
    message = schedule(reachable)
    Message.objects.filter(pk=message.pk).update(status="claimed", claimed_at=MIDDAY, attempts=1)
    dispatch_due()
    assert refreshed(message).status == MessageStatus.CLAIMED  # not yet timed out
    scripted_backend.shift(timedelta(minutes=6))
    dispatch_due()
    assert refreshed(message).status == MessageStatus.SENT
    assert len(support.sent) == 1


def test_abandoned_claim_after_the_provider_call_is_never_resent(reachable, scripted_backend):
    message = schedule(reachable)
    Message.objects.filter(pk=message.pk).update(
        status="claimed", claimed_at=MIDDAY, send_started_at=MIDDAY, attempts=1
    )
    scripted_backend.shift(timedelta(minutes=6))
    assert reclaim_abandoned() == 1
    assert (refreshed(message).status, message.status_reason) == ("failed", OUTCOME_UNKNOWN)
    dispatch_due()
    assert not support.sent


# --- one bad message never stops the outbox ---------------------------------------------


def test_a_bogus_time_zone_on_file_falls_back_to_the_unknown_zone_rule(
    reachable, other_patient, scripted_backend
):
    """Not an error that rolls the whole claim back: Eastern time, from 9am."""
    Patient.objects.filter(user=reachable).update(time_zone="Mars/Olympus")
    other_patient.patient.set_phone("+12015550111")
    other_patient.patient.save()
    services.consents_set(
        user=other_patient, source="app", changes=[services.ConsentChange("care", "sms", True)]
    )
    scripted_backend.move_to(datetime(2026, 7, 15, 12, 30, tzinfo=UTC))  # 8:30 EDT
    martian = schedule(reachable, key="mars")
    eastern = schedule(other_patient, key="eastern")

    dispatch_due()

    assert refreshed(eastern).status == MessageStatus.SENT  # the batch went on
    assert refreshed(martian).status == MessageStatus.SCHEDULED
    assert martian.send_at == datetime(2026, 7, 15, 13, 0, tzinfo=UTC)  # 9:00 EDT
    scripted_backend.move_to(martian.send_at)
    dispatch_due()
    assert refreshed(martian).status == MessageStatus.SENT
    assert [sms.to for sms in support.sent] == ["+12015550111", PHONE]


def test_a_message_whose_template_is_gone_fails_alone_and_the_batch_goes_on(
    reachable, scripted_backend, caplog
):
    retired = Message.objects.create(
        recipient=reachable,
        channel="sms",
        category="care",
        template_key="retired_template",
        context={"path": "/appointments/abc"},
        dedupe_key="retired",
        send_at=MIDDAY - timedelta(minutes=1),  # first in the batch
    )
    good = schedule(reachable, key="good")

    with caplog.at_level(logging.INFO, logger="notifications"):
        stats = dispatch_due()

    assert (stats.sent, stats.failed) == (1, 1)
    assert (refreshed(retired).status, retired.status_reason) == ("failed", "internal_error")
    assert retired.failed_at is not None
    assert refreshed(good).status == MessageStatus.SENT
    assert [sms.message_id for sms in support.sent] == [str(good.public_id)]
    (record,) = [r for r in caplog.records if "internal error" in r.getMessage()]
    logged = record.getMessage()
    assert str(retired.public_id) in logged
    assert "KeyError" in logged
    assert record.exc_info is None  # no traceback, whose text could quote values
    assert PHONE not in caplog.text
    assert PHONE[-4:] not in logged
    # Final: never picked up again.
    dispatch_due()
    assert refreshed(retired).attempts == 1


def test_a_misconfigured_backend_fails_each_text_and_email_still_goes(reachable, settings):
    settings.SMS_BACKEND = "notifications.sms.twilio.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID = ""  # ImproperlyConfigured when the backend is built
    text = schedule(reachable, key="text")
    email = schedule(reachable, key="email", channel="email")

    dispatch_due()

    assert (refreshed(text).status, text.status_reason) == ("failed", "internal_error")
    assert refreshed(email).status == MessageStatus.SENT
    assert len(mail.outbox) == 1


def test_a_message_the_rules_cannot_judge_fails_alone(
    reachable, other_patient, monkeypatch, caplog
):
    """Any surprise while applying the rules ends that message, not the claim."""
    other_patient.patient.set_phone("+12015550111")
    other_patient.patient.save()
    services.consents_set(
        user=other_patient, source="app", changes=[services.ConsentChange("care", "sms", True)]
    )

    def broken_for_central(now, zone_name):
        if zone_name == "America/Chicago":
            raise RuntimeError("boom")
        return quiet_hours_release(now, zone_name)

    monkeypatch.setattr(dispatch, "quiet_hours_release", broken_for_central)
    central = schedule(reachable, key="central")
    eastern = schedule(other_patient, key="eastern")

    with caplog.at_level(logging.ERROR, logger="notifications"):
        dispatch_due()

    assert (refreshed(central).status, central.status_reason) == ("failed", "internal_error")
    assert central.attempts == 0
    assert refreshed(eastern).status == MessageStatus.SENT
    assert str(central.public_id) in caplog.text
    assert "RuntimeError" in caplog.text


# --- rescheduling after a cancel ----------------------------------------------------------


def test_a_canceled_reminder_scheduled_again_is_revived_and_sent(reachable, scripted_backend):
    key = "appointment:1:reminder-24h"
    first = schedule(reachable, key=key, send_at=MIDDAY + timedelta(hours=1))
    assert services.messages_cancel(dedupe_prefix="appointment:1:") == 1
    # Whatever its previous life left behind is forgotten.
    Message.objects.filter(pk=first.pk).update(
        attempts=2, provider_error_code="503", provider_message_id="SMold"
    )

    again = schedule(
        reachable,
        key=key,
        send_at=MIDDAY + timedelta(hours=3),
        context={"path": "/appointments/moved"},
        template_key="questionnaire_due",
        urgent=True,
    )

    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert again.status == MessageStatus.SCHEDULED
    assert again.send_at == MIDDAY + timedelta(hours=3)
    assert (again.template_key, again.context, again.urgent) == (
        "questionnaire_due",
        {"path": "/appointments/moved"},
        True,
    )
    assert (again.attempts, again.status_reason, again.provider_error_code) == (0, "", "")
    assert again.provider_message_id == ""
    assert again.canceled_at is None
    assert again.claim_token is None

    dispatch_due()
    assert refreshed(again).status == MessageStatus.SCHEDULED
    scripted_backend.shift(timedelta(hours=3))
    dispatch_due()
    assert refreshed(again).status == MessageStatus.SENT
    (sms,) = support.sent
    assert sms.body.endswith("/app/appointments/moved")


def test_scheduling_a_sent_message_again_keeps_it_as_it_was(reachable):
    first = schedule(reachable, key="once")
    dispatch_due()
    again = schedule(reachable, key="once", send_at=MIDDAY + timedelta(hours=1))
    assert again.pk == first.pk
    assert (again.status, again.send_at) == (MessageStatus.SENT, MIDDAY)
    dispatch_due()
    assert len(support.sent) == 1


@pytest.mark.parametrize("prefix", ["", "   ", "\t\n"])
def test_canceling_with_an_empty_prefix_is_refused(reachable, prefix):
    message = schedule(reachable, send_at=MIDDAY + timedelta(hours=1))
    with pytest.raises(ValueError, match="dedupe_prefix"):
        services.messages_cancel(dedupe_prefix=prefix)
    assert refreshed(message).status == MessageStatus.SCHEDULED


# --- the time budget ----------------------------------------------------------------------


def urgent_texts_to(user, count):
    return [schedule(user, key=f"u{n}", urgent=True) for n in range(count)]


def test_a_spent_budget_sends_one_and_gives_the_rest_of_the_batch_back(reachable, settings):
    settings.NOTIFY_DISPATCH_TIME_BUDGET_SECONDS = 0
    messages = urgent_texts_to(reachable, 3)

    stats = dispatch_due()

    assert (stats.sent, stats.released, stats.out_of_time) == (1, 2, True)
    statuses = [refreshed(m).status for m in messages]
    assert statuses == ["sent", "scheduled", "scheduled"]
    for message in messages[1:]:
        assert (message.attempts, message.claim_token, message.claimed_at) == (0, None, None)
        assert message.send_at == MIDDAY  # still due: first in line next time
    assert not Message.objects.filter(status=MessageStatus.CLAIMED).exists()

    dispatch_due()  # still a zero budget: one more
    assert len(support.sent) == 2
    settings.NOTIFY_DISPATCH_TIME_BUDGET_SECONDS = 40
    dispatch_due()
    assert sorted(sms.message_id for sms in support.sent) == sorted(
        str(m.public_id) for m in messages
    )  # each exactly once
    assert {refreshed(m).attempts for m in messages} == {1}


def test_no_new_batch_is_claimed_once_the_budget_is_spent(reachable, settings, monkeypatch):
    """Each send takes 4 s of a 10 s budget: the second batch is claimed at 8 s, its first
    message goes (12 s), the second is given back, the third batch is never claimed."""
    settings.SMS_BACKEND = "tests.notifications.support.TickingSmsBackend"
    settings.NOTIFY_DISPATCH_TIME_BUDGET_SECONDS = 10
    settings.NOTIFY_BATCH_SIZE = 2
    support.clock[0] = 0.0
    monkeypatch.setattr(dispatch, "_clock", lambda: support.clock[0])
    messages = urgent_texts_to(reachable, 6)

    stats = dispatch_due()

    assert (stats.sent, stats.released, stats.out_of_time) == (3, 1, True)
    assert [refreshed(m).status for m in messages] == ["sent"] * 3 + ["scheduled"] * 3
    assert [m.attempts for m in messages] == [1, 1, 1, 0, 0, 0]
    assert not Message.objects.filter(status=MessageStatus.CLAIMED).exists()


def test_a_crash_mid_batch_gives_back_what_was_not_started(reachable, monkeypatch):
    messages = urgent_texts_to(reachable, 4)
    deliver = dispatch.deliver
    calls = []

    def crash_on_the_second(item, stats):
        calls.append(item)
        if len(calls) == 2:
            raise ConnectionError("database went away")
        deliver(item, stats)

    monkeypatch.setattr(dispatch, "deliver", crash_on_the_second)
    with pytest.raises(ConnectionError):
        dispatch_due()

    assert [refreshed(m).status for m in messages] == ["sent"] + ["scheduled"] * 3
    assert [m.attempts for m in messages] == [1, 0, 0, 0]


# --- the daily cap counts what other dispatchers hold -------------------------------------


def test_the_daily_cap_counts_messages_claimed_by_another_dispatcher(reachable, settings):
    settings.NOTIFY_DAILY_CAP = 3
    an_hour_ago = MIDDAY - timedelta(hours=1)
    for n in range(2):
        Message.objects.create(
            recipient=reachable,
            channel="sms",
            category="care",
            template_key="appointment_reminder",
            dedupe_key=f"sent{n}",
            status=MessageStatus.SENT,
            sent_at=an_hour_ago,
        )
    in_flight = Message.objects.create(
        recipient=reachable,
        channel="sms",
        category="care",
        template_key="appointment_reminder",
        dedupe_key="claimed-elsewhere",
        status=MessageStatus.CLAIMED,
        claim_token=uuid.uuid4(),
        claimed_at=MIDDAY,
        attempts=1,
    )
    message = schedule(reachable, key="next")

    stats = dispatch_due()

    assert (stats.sent, stats.deferred) == (0, 1)
    assert refreshed(message).status == MessageStatus.SCHEDULED
    assert message.send_at == an_hour_ago + timedelta(days=1)
    assert refreshed(in_flight).status == MessageStatus.CLAIMED  # not ours to touch
    assert not support.sent


def test_the_dispatcher_imports_nothing_from_the_outbox_api():
    """services enqueues the dispatch task, so the dispatcher (and what it imports) must not
    import services back: that was a cycle dispatch -> services -> tasks -> dispatch."""
    root = Path(dispatch.__file__).parent
    for name in ("dispatch.py", "rules.py", "phone_status.py", "email.py", "errors.py"):
        tree = ast.parse((root / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "notifications.services" not in imported, name

"""Inbound texts end to end: STOP, START/UNSTOP/YES, HELP and free-text replies, posted
form-encoded exactly the way Twilio posts them.

Every scenario runs twice through the `twilio` fixture: once as a signed form POST to the
webhook, once straight into the service the webhook calls."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from accounts.models import User
from audit.models import AuditEvent
from notifications import selectors, services
from notifications.dispatch import dispatch_due
from notifications.models import (
    CONSENT_CATEGORIES,
    Category,
    Channel,
    Consent,
    ConsentEvent,
    InboundSms,
    MessageStatus,
    PhoneStatus,
)
from notifications.services import (
    CONSENT_WORDING,
    ConsentChange,
    consents_set,
)
from notifications.templates import HELP_TEXT, START_CONFIRMATION, STOP_CONFIRMATION, render_system
from tests.notifications.support import (
    PHONE,
    STOP_WORDS,
    UNKNOWN_PHONE,
    phone_status,
    recorder,
    schedule,
    sms_consents,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_webhook_settings")]


# --- STOP -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", STOP_WORDS)
def test_stop_opts_the_number_out_withdraws_sms_consent_and_cancels_texts(
    twilio, texting_patient, word
):
    consents_set(
        user=texting_patient,
        source="app",
        changes=[ConsentChange(category, Channel.SMS, True) for category in CONSENT_CATEGORIES]
        + [ConsentChange(Category.MARKETING, Channel.EMAIL, True)],
    )
    care_sms = schedule(texting_patient, channel=Channel.SMS)
    billing_sms = schedule(texting_patient, channel=Channel.SMS, category="billing")
    care_email = schedule(texting_patient, channel=Channel.EMAIL)

    replies = twilio.text(word)

    assert replies == [render_system(STOP_CONFIRMATION)]
    status = phone_status()
    assert status is not None
    assert status.opted_out_at is not None
    assert status.opt_out_source == "sms_keyword"
    consents = sms_consents(texting_patient)
    assert set(consents) == set(CONSENT_CATEGORIES)
    for consent in consents.values():
        assert consent.granted is False
        assert consent.source == "sms_keyword"
    # Email consent is not touched by a text.
    assert Consent.objects.get(
        user=texting_patient, category=Category.MARKETING, channel=Channel.EMAIL
    ).granted
    for message in (care_sms, billing_sms):
        message.refresh_from_db()
        assert message.status == MessageStatus.CANCELED
        assert message.status_reason == "opted_out"
        assert message.canceled_at is not None
    care_email.refresh_from_db()
    assert care_email.status == MessageStatus.SCHEDULED
    inbound = InboundSms.objects.get()
    assert inbound.kind == "stop"
    assert inbound.user == texting_patient
    assert selectors.sms_opted_out(texting_patient) is True


def test_stop_withdraws_consent_for_every_category_even_never_granted_ones(twilio, texting_patient):
    twilio.text("STOP")
    consents = sms_consents(texting_patient)
    assert {category: c.granted for category, c in consents.items()} == {
        "care": False,
        "billing": False,
        "marketing": False,
    }


def test_stop_and_start_are_kept_in_the_consent_history(twilio, texting_patient):
    consents_set(
        user=texting_patient, source="intake", changes=[ConsentChange("care", "sms", True)]
    )

    twilio.text("STOP")
    twilio.text("START")

    events = list(ConsentEvent.objects.filter(user=texting_patient).order_by("at", "pk"))
    assert [(e.source, e.category, e.channel, e.granted) for e in events] == [
        ("intake", "care", "sms", True),
        ("sms_keyword", "care", "sms", False),
        ("sms_keyword", "billing", "sms", False),
        ("sms_keyword", "marketing", "sms", False),
        ("sms_keyword", "care", "sms", True),
        ("sms_keyword", "billing", "sms", True),
    ]
    assert all(e.wording == CONSENT_WORDING[Category(e.category)] for e in events)


def test_a_second_stop_gets_no_second_confirmation(twilio, texting_patient):
    assert twilio.text("STOP") == [render_system(STOP_CONFIRMATION)]
    first_opt_out = phone_status().opted_out_at

    assert twilio.text("STOP") == []
    assert twilio.text("unsubscribe") == []

    assert InboundSms.objects.count() == 3
    assert phone_status().opted_out_at == first_opt_out


def test_a_twilio_retry_of_the_same_stop_answers_empty_and_stores_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    assert twilio.text("STOP", sid=sid) == [render_system(STOP_CONFIRMATION)]
    consents_before = list(Consent.objects.values().order_by("pk"))
    status_before = PhoneStatus.objects.values().get()

    assert twilio.text("STOP", sid=sid) == []

    assert InboundSms.objects.count() == 1
    assert list(Consent.objects.values().order_by("pk")) == consents_before
    assert PhoneStatus.objects.values().get() == status_before


def test_a_retry_of_an_ordinary_reply_is_not_handled_twice(twilio, texting_patient, reply_handlers):
    calls: list[str] = []
    services.register_reply_handler("test-handler", recorder(calls))
    sid = "SM" + uuid.uuid4().hex
    assert twilio.text("7", sid=sid) == []
    assert twilio.text("7", sid=sid) == []
    assert calls == ["7"]
    assert InboundSms.objects.count() == 1


def test_after_stop_the_dispatcher_suppresses_texts_to_that_patient(
    twilio, texting_patient, sms_outbox
):
    twilio.text("STOP")
    # Consent given again in the app: the opt-out alone must still stop the text.
    consents_set(user=texting_patient, source="app", changes=[ConsentChange("care", "sms", True)])
    message = schedule(texting_patient, channel=Channel.SMS, later=False)

    dispatch_due()

    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert message.status_reason == "opted_out"
    assert sms_outbox == []


# --- START / UNSTOP / YES ---------------------------------------------------------------


@pytest.mark.parametrize("word", ["START", "unstop", "Yes", "start."])
def test_start_after_stop_opts_back_in_for_care_and_billing_only(twilio, texting_patient, word):
    twilio.text("STOP")

    replies = twilio.text(word)

    assert replies == [render_system(START_CONFIRMATION)]
    status = phone_status()
    assert status.opted_out_at is None
    assert status.opt_out_source == ""
    consents = sms_consents(texting_patient)
    assert consents["care"].granted is True
    assert consents["billing"].granted is True
    assert consents["marketing"].granted is False  # needs fresh written consent
    assert consents["care"].source == "sms_keyword"
    assert InboundSms.objects.order_by("-pk").first().kind == "start"
    assert selectors.sms_opted_out(texting_patient) is False


def test_texts_flow_again_after_start(twilio, texting_patient, sms_outbox):
    twilio.text("STOP")
    twilio.text("START")
    message = schedule(texting_patient, channel=Channel.SMS, later=False)
    message.urgent = True
    message.save(update_fields=["urgent"])

    dispatch_due()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [sms.to for sms in sms_outbox] == [PHONE]


def test_yes_from_a_number_that_is_not_opted_out_is_an_ordinary_reply(
    twilio, texting_patient, reply_handlers
):
    calls: list[tuple[User, str, InboundSms]] = []

    def handler(user: User, body: str, inbound: InboundSms) -> bool:
        calls.append((user, body, inbound))
        return True

    services.register_reply_handler("test-handler", handler)

    replies = twilio.text("YES")

    assert replies == []
    inbound = InboundSms.objects.get()
    assert inbound.kind == "reply"
    assert inbound.handled_by == "test-handler"
    assert calls == [(texting_patient, "YES", inbound)]
    assert PhoneStatus.objects.count() == 0
    assert not Consent.objects.exists()


# --- HELP -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["HELP", "help", " Help "])
def test_help_answers_with_the_practice_name_and_a_contact(twilio, settings, texting_patient, word):
    replies = twilio.text(word)

    assert replies == [render_system(HELP_TEXT)]
    (reply,) = replies
    assert settings.PRACTICE_NAME in reply
    assert settings.PRACTICE_SUPPORT_PHONE in reply or settings.PRACTICE_SUPPORT_EMAIL in reply
    assert InboundSms.objects.get().kind == "help"
    assert PhoneStatus.objects.count() == 0


def test_help_from_an_opted_out_number_still_answers_and_keeps_the_opt_out(twilio, texting_patient):
    twilio.text("STOP")
    assert twilio.text("HELP") == [render_system(HELP_TEXT)]
    assert phone_status().opted_out_at is not None


# --- other replies ----------------------------------------------------------------------


def test_a_reply_from_a_patient_is_routed_to_the_first_handler_that_claims_it(
    twilio, texting_patient, reply_handlers
):
    seen: list[tuple[str, User, str, InboundSms]] = []

    def declines(user: User, body: str, inbound: InboundSms) -> bool:
        seen.append(("declines", user, body, inbound))
        return False

    def claims(user: User, body: str, inbound: InboundSms) -> bool:
        seen.append(("test-handler", user, body, inbound))
        return True

    services.register_reply_handler("declines", declines)
    services.register_reply_handler("test-handler", claims)

    replies = twilio.text("Feeling about a 7 today")

    assert replies == []
    inbound = InboundSms.objects.get()
    assert inbound.kind == "reply"
    assert inbound.user == texting_patient
    assert inbound.handled_by == "test-handler"
    assert seen == [
        ("declines", texting_patient, "Feeling about a 7 today", inbound),
        ("test-handler", texting_patient, "Feeling about a 7 today", inbound),
    ]


def test_a_reply_nobody_claims_is_stored_unhandled(twilio, texting_patient, reply_handlers):
    services.register_reply_handler("test-handler", lambda user, body, inbound: False)

    assert twilio.text("thanks") == []

    inbound = InboundSms.objects.get()
    assert inbound.kind == "reply"
    assert inbound.handled_by == ""


def test_a_reply_from_an_unknown_number_is_stored_encrypted_and_answered_empty(
    twilio, texting_patient, reply_handlers
):
    calls: list[str] = []
    services.register_reply_handler("test-handler", recorder(calls))
    body = "Hi, this is Jordan, I need my ketamine dose changed"

    replies = twilio.text(body, from_phone=UNKNOWN_PHONE)

    assert replies == []
    assert calls == []
    inbound = InboundSms.objects.get()
    assert inbound.kind == "unknown_sender"
    assert inbound.user is None
    assert inbound.body == body
    assert inbound.from_phone == UNKNOWN_PHONE
    with connection.cursor() as cursor:
        cursor.execute("SELECT body, from_phone, from_phone_hash FROM notifications_inboundsms")
        ((raw_body, raw_phone, raw_hash),) = cursor.fetchall()
    assert "Jordan" not in raw_body
    assert "ketamine" not in raw_body
    assert UNKNOWN_PHONE not in raw_phone
    assert UNKNOWN_PHONE[2:] not in raw_phone
    assert UNKNOWN_PHONE[2:] not in raw_hash


def test_each_stored_text_is_audited_by_its_public_id(twilio, texting_patient):
    twilio.text("HELP")
    inbound = InboundSms.objects.get()
    (event,) = AuditEvent.objects.filter(action="create", object_type="notifications.inboundsms")
    assert event.object_id == str(inbound.public_id)
    assert event.actor is None

"""Twilio webhooks end to end: signed inbound texts (STOP/START/HELP/replies) and status
callbacks, posted form-encoded exactly the way Twilio posts them.

Every scenario runs twice through the `twilio` fixture: once as a signed form POST to the
webhook, once straight into the service the webhook calls.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils import timezone
from twilio.request_validator import RequestValidator  # noqa: TID251

from accounts.models import User
from core.phones import phone_lookup_hash
from notifications import selectors, services
from notifications.dispatch import dispatch_due
from notifications.models import (
    Category,
    Channel,
    Consent,
    ConsentEvent,
    InboundSms,
    Message,
    MessageStatus,
    PhoneStatus,
)
from notifications.services import (
    CONSENT_WORDING,
    ConsentChange,
    consents_set,
    message_schedule,
)
from notifications.sms.twilio import delivery_report, twiml_message
from notifications.templates import HELP_TEXT, START_CONFIRMATION, STOP_CONFIRMATION, render_system

pytestmark = pytest.mark.django_db

TOKEN = "test-token"
BASE = "https://api.example.test"
INBOUND = "/api/notifications/twilio/inbound"
STATUS = "/api/notifications/twilio/status"
PHONE = "+13055550123"
UNKNOWN_PHONE = "+13055559876"
OUR_NUMBER = "+18005550199"
ACCOUNT_SID = "AC" + "0" * 32

STOP_WORDS = ["STOP", "stop", " Unsubscribe ", "opt out", "QUIT"]


# --- helpers ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _twilio_settings(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def texting_patient(patient: User) -> User:
    """The `patient` actor with a phone number on file."""
    patient.patient.set_phone(PHONE)
    patient.patient.save()
    return patient


@pytest.fixture
def reply_handlers() -> Iterator[list[tuple[str, Any]]]:
    """The module-level handler registry, restored after the test."""
    saved = list(services._reply_handlers)
    yield services._reply_handlers
    services._reply_handlers[:] = saved


def sign(url: str, params: dict[str, str]) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params)


def post_form(api: Any, path: str, params: dict[str, str], signature: str) -> Any:
    """POST form-encoded like Twilio does (not multipart, not JSON)."""
    return api.post(
        path,
        urlencode(params),
        format=None,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def post_signed(api: Any, path: str, params: dict[str, str]) -> Any:
    return post_form(api, path, params, sign(BASE + path, params))


def sms_params(body: str, *, from_phone: str = PHONE, sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": from_phone,
        "To": OUR_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }


def twiml_messages(response: Any) -> list[str]:
    """The <Message> texts of a TwiML answer (asserting it is one <Response>)."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    return parse_twiml(response.content)


def phone_status(phone: str = PHONE) -> PhoneStatus | None:
    return PhoneStatus.objects.filter(phone_hash=phone_lookup_hash(phone)).first()


def sms_consents(user: User) -> dict[str, Consent]:
    return {c.category: c for c in Consent.objects.filter(user=user, channel=Channel.SMS)}


def schedule(user: User, *, channel: str, category: str = "care", later: bool = True) -> Message:
    return message_schedule(
        recipient=user,
        template_key="appointment_reminder",
        category=category,
        channel=channel,
        dedupe_key=f"test:{uuid.uuid4()}",
        context={"path": "/checkins/1"},
        send_at=timezone.now() + timedelta(days=1) if later else None,
    )


def make_message(recipient: User, status: str, **extra: Any) -> Message:
    return Message.objects.create(
        recipient=recipient,
        channel=Channel.SMS,
        category=Category.CARE,
        template_key="appointment_reminder",
        dedupe_key=f"test:{uuid.uuid4()}",
        status=status,
        **extra,
    )


def status_params(status: str, *, sid: str, error_code: str = "") -> dict[str, str]:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": OUR_NUMBER,
        "To": PHONE,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def parse_twiml(xml: str | bytes) -> list[str]:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return [element.text or "" for element in root.findall("Message")]


class Twilio:
    """What Twilio does to us: text us, report on a message. Via the webhook or the service."""

    def __init__(self, api: Any, via: str) -> None:
        self.api = api
        self.via = via

    def text(self, body: str, *, from_phone: str = PHONE, sid: str | None = None) -> list[str]:
        """An inbound text; returns the <Message> texts of our TwiML answer."""
        params = sms_params(body, from_phone=from_phone, sid=sid)
        if self.via == "webhook":
            return twiml_messages(post_signed(self.api, INBOUND, params))
        reply = services.inbound_sms_receive(
            provider_message_id=params["MessageSid"], from_phone=from_phone, body=body
        )
        return parse_twiml(twiml_message(reply))

    def report(
        self,
        message_id: str,
        status: str,
        *,
        sid: str,
        error_code: str = "",
        attempt: int | None = None,
    ) -> None:
        """A delivery status callback for our message `message_id` (the ?m= parameter)
        and, when given, its attempt (the &a= parameter)."""
        query = {"m": message_id} | ({"a": str(attempt)} if attempt is not None else {})
        if self.via == "webhook":
            path = f"{STATUS}?{urlencode(query)}"
            params = status_params(status, sid=sid, error_code=error_code)
            assert post_signed(self.api, path, params).status_code == 204
            return
        # What the webhook does: Twilio's words into ours, then the service.
        report = delivery_report(status_params(status, sid=sid, error_code=error_code), query=query)
        services.message_status_report(
            message_id=report.message_id,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error_code=report.error_code,
            number_flag=report.number_flag,
            to_phone=report.to_phone,
            attempt=report.attempt,
        )


@pytest.fixture(params=["webhook", "service"])
def twilio(request: pytest.FixtureRequest, api: Any) -> Twilio:
    return Twilio(api, request.param)


def snapshot(message: Message) -> dict[str, Any]:
    return Message.objects.values().get(pk=message.pk)


# --- signatures -------------------------------------------------------------------------


def _nothing_changed(user: User, scheduled_sms: Message) -> None:
    assert InboundSms.objects.count() == 0
    assert PhoneStatus.objects.count() == 0
    assert not Consent.objects.filter(user=user).exists()
    scheduled_sms.refresh_from_db()
    assert scheduled_sms.status == MessageStatus.SCHEDULED


def test_inbound_with_a_bad_signature_is_refused_and_nothing_is_stored(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    response = post_form(api, INBOUND, sms_params("STOP"), "bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_without_a_signature_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    response = api.post(
        INBOUND, urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_with_a_tampered_parameter_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("Hello")
    signature = sign(BASE + INBOUND, params)
    response = post_form(api, INBOUND, {**params, "Body": "STOP"}, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_for_http_instead_of_https_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = sign("http://api.example.test" + INBOUND, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_for_another_path_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = sign(BASE + STATUS, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_signed_with_another_token_is_refused(api, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = RequestValidator("another-token").compute_signature(BASE + INBOUND, params)
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_inbound_is_refused_when_no_auth_token_is_configured(api, settings, texting_patient):
    message = schedule(texting_patient, channel=Channel.SMS)
    params = sms_params("STOP")
    signature = RequestValidator("").compute_signature(BASE + INBOUND, params)
    settings.TWILIO_AUTH_TOKEN = ""
    response = post_form(api, INBOUND, params, signature)
    assert response.status_code == 403
    _nothing_changed(texting_patient, message)


def test_the_signed_url_is_the_public_base_url_not_the_host_header(api, texting_patient):
    """A request arriving on an internal host still verifies against PUBLIC_BASE_URL."""
    params = sms_params("HELP")
    response = api.post(
        INBOUND,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=sign(BASE + INBOUND, params),
        HTTP_HOST="localhost",
    )
    assert response.status_code == 200


# --- STOP -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", STOP_WORDS)
def test_stop_opts_the_number_out_withdraws_sms_consent_and_cancels_texts(
    twilio, texting_patient, word
):
    consents_set(
        user=texting_patient,
        source="app",
        changes=[ConsentChange(category, Channel.SMS, True) for category in Category]
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
    assert set(consents) == set(Category.values)
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


def recorder(calls: list[str]):
    """A reply handler that claims every reply and remembers its body."""

    def handle(user, body, inbound) -> bool:
        calls.append(body)
        return True

    return handle


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


# --- status callbacks -------------------------------------------------------------------


@pytest.mark.parametrize("status", [MessageStatus.CLAIMED, MessageStatus.SENT])
def test_delivered_moves_a_claimed_or_sent_message_to_delivered(twilio, texting_patient, status):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, status, provider_message_id=sid)

    twilio.report(str(message.public_id), "delivered", sid=sid)

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None
    assert message.provider_message_id == sid


def test_a_repeated_delivered_report_is_harmless(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(str(message.public_id), "delivered", sid=sid)
    first = snapshot(message)

    twilio.report(str(message.public_id), "delivered", sid=sid)

    assert snapshot(message) == first
    assert first["status"] == MessageStatus.DELIVERED


def test_a_late_sent_report_does_not_move_a_delivered_message_back(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(str(message.public_id), "delivered", sid=sid)
    delivered = snapshot(message)

    twilio.report(str(message.public_id), "sent", sid=sid)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")

    assert snapshot(message) == delivered


def test_undelivered_to_an_unknown_number_fails_the_message_and_flags_the_phone(
    twilio, texting_patient
):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30005")

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failed_at is not None
    assert message.provider_error_code == "30005"
    status = phone_status()
    assert status is not None
    assert status.invalid_at is not None
    assert status.invalid_code == "30005"
    assert status.opted_out_at is None


@pytest.mark.parametrize("provider_status", ["delivered", "sent"])
def test_a_report_revives_a_message_whose_outcome_was_unknown(
    twilio, texting_patient, provider_status
):
    message = make_message(
        texting_patient,
        MessageStatus.FAILED,
        status_reason="outcome_unknown",
        failed_at=timezone.now(),
    )
    sid = "SM" + uuid.uuid4().hex

    twilio.report(str(message.public_id), provider_status, sid=sid)

    message.refresh_from_db()
    assert message.status == (
        MessageStatus.DELIVERED if provider_status == "delivered" else MessageStatus.SENT
    )
    assert message.status_reason == ""
    assert message.provider_message_id == sid


def test_a_report_does_not_revive_a_message_that_failed_for_a_known_reason(twilio, texting_patient):
    message = make_message(texting_patient, MessageStatus.FAILED, status_reason="permanent_error")
    before = snapshot(message)
    twilio.report(str(message.public_id), "delivered", sid="SM" + uuid.uuid4().hex)
    assert snapshot(message) == before


@pytest.mark.parametrize("message_id", ["", "not-a-uuid"])
def test_without_our_id_the_report_is_matched_by_provider_sid(twilio, texting_patient, message_id):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    twilio.report(message_id, "delivered", sid=sid)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_report_for_an_unknown_message_answers_204_and_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)

    twilio.report(str(uuid.uuid4()), "delivered", sid=sid)
    twilio.report("not-a-uuid", "delivered", sid="SM" + uuid.uuid4().hex)

    assert snapshot(message) == before
    assert PhoneStatus.objects.count() == 0


def test_a_report_with_an_unknown_status_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)
    twilio.report(str(message.public_id), "teleported", sid=sid)
    assert snapshot(message) == before


def test_a_status_report_with_a_bad_signature_is_refused_and_changes_nothing(api, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    before = snapshot(message)
    path = f"{STATUS}?m={message.public_id}"
    params = status_params("undelivered", sid=sid, error_code="30005")

    bad = post_form(api, path, params, "bm90IGEgc2lnbmF0dXJl")
    # Signed without the query string: the message id is part of what Twilio signs.
    no_query = post_form(api, path, params, sign(BASE + STATUS, params))
    # Signed for another message's id.
    other_id = post_form(api, path, params, sign(f"{BASE}{STATUS}?m={uuid.uuid4()}", params))

    assert [bad.status_code, no_query.status_code, other_id.status_code] == [403, 403, 403]
    assert snapshot(message) == before
    assert PhoneStatus.objects.count() == 0


def test_a_late_failure_report_does_not_flag_the_patients_new_number(api, texting_patient):
    new_phone = "+13055550999"
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid)
    # The text went to PHONE; the patient then corrects their number.
    texting_patient.patient.set_phone(new_phone)
    texting_patient.patient.save()

    path = f"{STATUS}?m={message.public_id}"
    params = status_params("undelivered", sid=sid, error_code="30005")  # To = PHONE
    assert post_signed(api, path, params).status_code == 204

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    flagged = phone_status(new_phone)
    assert flagged is None or flagged.invalid_at is None


# --- unreachable handsets (30003): a limited retry ----------------------------------------


def test_unreachable_is_retried_with_backoff_while_attempts_remain(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=1)
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    before = timezone.now()

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)

    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED
    assert (message.status_reason, message.provider_error_code) == ("unreachable_retry", "30003")
    assert (
        before + timedelta(seconds=60) <= message.send_at <= timezone.now() + timedelta(seconds=60)
    )
    assert (message.sent_at, message.failed_at, message.provider_message_id) == (None, None, "")
    assert PhoneStatus.objects.count() == 0  # unreachable says nothing lasting about the number

    # Twilio repeating the same report changes nothing.
    retried = snapshot(message)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)
    twilio.report(str(message.public_id), "failed", sid=sid, error_code="30003")
    assert snapshot(message) == retried


def test_the_backoff_doubles_with_each_attempt(twilio, texting_patient, settings):
    settings.NOTIFY_UNREACHABLE_MAX_ATTEMPTS = 5
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=3)
    before = timezone.now()
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")
    message.refresh_from_db()
    assert message.status == MessageStatus.SCHEDULED
    assert message.send_at >= before + timedelta(seconds=240)


@pytest.mark.parametrize("limit", [1, 3])
def test_unreachable_fails_once_the_attempts_are_spent(twilio, texting_patient, settings, limit):
    settings.NOTIFY_UNREACHABLE_MAX_ATTEMPTS = limit
    sid = "SM" + uuid.uuid4().hex
    message = make_message(
        texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=limit
    )

    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003")

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert (message.status_reason, message.provider_error_code) == ("unreachable", "30003")
    assert message.failed_at is not None
    assert PhoneStatus.objects.count() == 0


def test_a_report_about_another_attempt_changes_nothing(twilio, texting_patient):
    sid = "SM" + uuid.uuid4().hex
    message = make_message(texting_patient, MessageStatus.SENT, provider_message_id=sid, attempts=2)
    before = snapshot(message)
    twilio.report(str(message.public_id), "undelivered", sid=sid, error_code="30003", attempt=1)
    twilio.report(str(message.public_id), "delivered", sid=sid, attempt=1)
    assert snapshot(message) == before


def test_an_unreachable_text_is_sent_again_and_a_late_report_of_the_first_try_is_ignored(
    twilio, texting_patient, sms_outbox
):
    consents_set(user=texting_patient, source="app", changes=[ConsentChange("care", "sms", True)])
    message = message_schedule(
        recipient=texting_patient,
        template_key="appointment_reminder",
        category="care",
        channel=Channel.SMS,
        dedupe_key="unreachable",
        send_at=timezone.now() + timedelta(days=1),
        urgent=True,  # no quiet hours: this test runs at any hour
    )
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now())
    dispatch_due()
    message.refresh_from_db()
    first_sid = message.provider_message_id
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert sms_outbox[0].attempt == 1

    twilio.report(
        str(message.public_id), "undelivered", sid=first_sid, error_code="30003", attempt=1
    )
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now())  # backoff is over
    dispatch_due()

    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert message.provider_message_id not in ("", first_sid)
    assert [sms.attempt for sms in sms_outbox] == [1, 2]
    second = snapshot(message)
    # Twilio repeats its report on the first try, late: the second try is not touched.
    twilio.report(
        str(message.public_id), "undelivered", sid=first_sid, error_code="30003", attempt=1
    )
    assert snapshot(message) == second
    dispatch_due()
    assert len(sms_outbox) == 2


def test_the_service_speaks_no_twilio():
    """Twilio's statuses and error codes live in notifications/sms/ (twilio.py) only."""
    import notifications

    root = Path(notifications.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        for word in ("21610", "21211", "30005", "30003", '"queued"', '"accepted"'):
            assert word not in text, f"notifications/{path.name} mentions {word}"

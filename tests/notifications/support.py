"""Shared by the notifications tests: SMS and email backends selected through settings
(SMS_BACKEND, EMAIL_BACKEND) like any other backend, and Twilio webhook posts made the way
Twilio makes them."""

from __future__ import annotations

import smtplib
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from twilio.request_validator import RequestValidator  # noqa: TID251

from accounts.models import User
from core.phones import phone_lookup_hash
from notifications import services
from notifications.errors import SendError
from notifications.models import (
    Category,
    Channel,
    Consent,
    Message,
    PhoneStatus,
)
from notifications.services import (
    message_schedule,
)
from notifications.sms.base import OutgoingSms, SentSms, SmsBackend
from notifications.sms.twilio import delivery_report, twiml_message

# What ScriptedSmsBackend does on each call, in order: a SendError to raise, or None to send.
script: list[SendError | None] = []
sent: list[OutgoingSms] = []

SEND_LOG = "test:sms-send-log"


class ScriptedSmsBackend(SmsBackend):
    def send(self, sms: OutgoingSms) -> SentSms:
        outcome = script.pop(0) if script else None
        if outcome is not None:
            raise outcome
        sent.append(sms)
        return SentSms(provider_message_id=f"SM{uuid.uuid4().hex}")


# A clock the time-budget tests give the dispatcher; TickingSmsBackend moves it on.
clock: list[float] = [0.0]
TICK_SECONDS = 4.0


class TickingSmsBackend(ScriptedSmsBackend):
    """Each send takes TICK_SECONDS on `clock`."""

    def send(self, sms: OutgoingSms) -> SentSms:
        clock[0] += TICK_SECONDS
        return super().send(sms)


class RecordingSmsBackend(SmsBackend):
    """Logs every provider call to Redis, so calls from threads and other processes add up."""

    delay_seconds = 0.0

    def send(self, sms: OutgoingSms) -> SentSms:
        redis.Redis.from_url(settings.REDIS_URL).rpush(SEND_LOG, sms.message_id)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        return SentSms(provider_message_id=f"SM{uuid.uuid4().hex}")


class SlowRecordingSmsBackend(RecordingSmsBackend):
    delay_seconds = 0.05


def send_log() -> list[str]:
    return [
        item.decode() for item in redis.Redis.from_url(settings.REDIS_URL).lrange(SEND_LOG, 0, -1)
    ]


class RecipientRefusingEmailBackend(BaseEmailBackend):
    """A mail server that refuses every recipient, the way smtplib reports it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        refused = {to: (550, b"5.1.1 no such user") for m in email_messages for to in m.to}
        raise smtplib.SMTPRecipientsRefused(refused)


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --- Twilio webhooks, posted the way Twilio posts them ----------------------------------

TOKEN = "test-token"
BASE = "https://api.example.test"
INBOUND = "/api/notifications/twilio/inbound"
STATUS = "/api/notifications/twilio/status"
PHONE = "+13055550123"
UNKNOWN_PHONE = "+13055559876"
OUR_NUMBER = "+18005550199"
ACCOUNT_SID = "AC" + "0" * 32

STOP_WORDS = ["STOP", "stop", " Unsubscribe ", "opt out", "QUIT"]


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


def snapshot(message: Message) -> dict[str, Any]:
    return Message.objects.values().get(pk=message.pk)


def recorder(calls: list[str]):
    """A reply handler that claims every reply and remembers its body."""

    def handle(user, body, inbound) -> bool:
        calls.append(body)
        return True

    return handle

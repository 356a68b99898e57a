"""Shared by the notifications tests: SMS and email backends selected through settings
(SMS_BACKEND, EMAIL_BACKEND) like any other backend."""

from __future__ import annotations

import smtplib
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from notifications.errors import SendError
from notifications.sms.base import OutgoingSms, SentSms, SmsBackend

# What ScriptedSmsBackend does on each call, in order: an SendError to raise, or None to send.
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

"""SMS backends for tests, selected through settings.SMS_BACKEND like any other backend."""

from __future__ import annotations

import time
import uuid

import redis
from django.conf import settings

from notifications.sms.base import OutgoingSms, SentSms, SmsBackend, SmsError

# What ScriptedSmsBackend does on each call, in order: an SmsError to raise, or None to send.
script: list[SmsError | None] = []
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

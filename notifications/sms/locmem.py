"""For tests: keeps every SMS in `outbox`, like Django's locmem email backend."""

from __future__ import annotations

import uuid

from notifications.sms.base import OutgoingSms, SentSms, SmsBackend

outbox: list[OutgoingSms] = []


class LocmemSmsBackend(SmsBackend):
    def send(self, sms: OutgoingSms) -> SentSms:
        outbox.append(sms)
        return SentSms(provider_message_id=f"locmem-{uuid.uuid4().hex}")

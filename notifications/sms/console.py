"""The embedded default: prints each SMS instead of sending it."""

from __future__ import annotations

import sys
import uuid

from notifications.sms.base import OutgoingSms, SentSms, SmsBackend


class ConsoleSmsBackend(SmsBackend):
    def send(self, sms: OutgoingSms) -> SentSms:
        # Bodies carry no PHI (the templates guarantee it); the number is masked anyway.
        sys.stdout.write(f"[sms to ***{sms.to[-4:]}] {sms.body}\n")
        sys.stdout.flush()
        return SentSms(provider_message_id=f"console-{uuid.uuid4().hex}")

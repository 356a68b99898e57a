"""What every SMS backend takes and returns, the errors only SMS has, and which backend
settings name.

Backends raise only the send errors of `notifications.errors` (transient, uncertain,
permanent), so the dispatcher never sees a vendor exception; the permanent errors below
also say something about the number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.utils.module_loading import import_string

from notifications.errors import PermanentSendError

# What a provider's error says about the number itself (not just this one message).
NumberFlag = Literal["opted_out", "invalid", "unreachable"]


@dataclass(frozen=True)
class OutgoingSms:
    to: str  # E.164
    body: str
    # Our message's public id: backends put it in the status callback URL so a delivery
    # report can always be matched, even if we never saw the provider's answer.
    message_id: str
    # Which attempt of that message this is (its `attempts` when sent). Backends put it in
    # the callback URL too, so a late report about an earlier attempt of a message that
    # was sent again is recognized and ignored.
    attempt: int | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's delivery report, in our words.

    `status` is the MessageStatus it means ("sent", "delivered", "failed"), or None for a
    provider status we do not act on; `number_flag` what the error says about the number
    the text went to (`to_phone`, which may no longer be the one on file)."""

    message_id: str  # our message's public id, from the callback URL ("" if absent)
    attempt: int | None  # from the callback URL; None when the URL did not carry it
    provider_message_id: str
    status: str | None
    error_code: str = ""
    number_flag: NumberFlag | None = None
    to_phone: str = ""


@dataclass(frozen=True)
class IncomingSms:
    provider_message_id: str
    from_phone: str
    body: str


@dataclass(frozen=True)
class SentSms:
    provider_message_id: str
    status: str = "sent"


class OptedOutNumber(PermanentSendError):
    """The carrier says the number replied STOP (Twilio 21610)."""


class InvalidNumber(PermanentSendError):
    """Not a number that can receive SMS (Twilio 21211, 30005)."""


class SmsBackend:
    def send(self, sms: OutgoingSms) -> SentSms:
        raise NotImplementedError


@functools.cache
def _backend_class(path: str) -> type[SmsBackend]:
    return import_string(path)


def get_sms_backend() -> SmsBackend:
    """The backend settings.SMS_BACKEND names by dotted path (like EMAIL_BACKEND)."""
    return _backend_class(settings.SMS_BACKEND)()

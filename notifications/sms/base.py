"""What every SMS backend takes and returns, and the errors it may raise.

Backends raise only these errors, so the dispatcher never sees a vendor exception:
TransientSmsError (retry later), PermanentSmsError (give up on this message), and its
subclasses that also say something about the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    # was sent again is recognised and ignored.
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


class SmsError(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TransientSmsError(SmsError):
    """Network trouble, provider 5xx, rate limits: the same send may succeed later."""


class UncertainSmsError(SmsError):
    """The request reached the provider but we do not know whether it took the message
    (read timeout, unreadable answer). Never retried: a retry could send it twice; the
    status callback, which names our message id, settles it."""


class PermanentSmsError(SmsError):
    """This message can never be sent as it is."""


class OptedOutNumber(PermanentSmsError):
    """The carrier says the number replied STOP (Twilio 21610)."""


class InvalidNumber(PermanentSmsError):
    """Not a number that can receive SMS (Twilio 21211, 30005)."""


class SmsBackend:
    def send(self, sms: OutgoingSms) -> SentSms:
        raise NotImplementedError

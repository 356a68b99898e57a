"""The errors a channel backend (SMS, email) may raise, the same for every channel.

Backends raise only these (or their channel-specific subclasses), so the dispatcher never
sees a vendor or smtplib exception and applies one contract to every channel:
TransientSendError (retry later), UncertainSendError (may have gone out: never retried),
PermanentSendError (give up on this message).
"""

from __future__ import annotations


class SendError(Exception):
    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """Network trouble, provider 5xx, rate limits: the same send may succeed later."""


class UncertainSendError(SendError):
    """The request reached the provider but we do not know whether it took the message
    (read timeout, unreadable answer). Never retried: a retry could send it twice; for SMS
    the status callback, which names our message id, settles it."""


class PermanentSendError(SendError):
    """This message can never be sent as it is."""

"""Email: sends through Django's EMAIL_BACKEND and speaks the channel-neutral send errors.

Django picks the transport (SMTP in production, console or locmem elsewhere); this module
turns what smtplib and the socket raise into `notifications.errors`, so the dispatcher
treats a failed email exactly as it treats a failed text.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail

from notifications.errors import PermanentSendError, TransientSendError


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str
    message_id: str  # our message's public id


def email_send(email: OutgoingEmail) -> str:
    """Hand the email to the configured backend; returns the id we record as the provider's.

    A refused recipient is permanent; any other SMTP or network failure is transient (the
    server did not take the message, so sending it again cannot make a duplicate)."""
    try:
        send_mail(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to])
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentSendError("recipient refused", code="smtp_recipient_refused") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientSendError("mail server unavailable", code="smtp_unavailable") from exc
    return f"email-{email.message_id}"

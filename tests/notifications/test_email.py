"""Email goes through the same dispatcher contract as SMS: an SMTP failure is an email
failure, retried or ended by the channel-neutral send errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from notifications import services
from notifications.dispatch import dispatch_due
from notifications.email import OutgoingEmail, email_send
from notifications.errors import TransientSendError
from notifications.models import Channel, MessageStatus, PhoneStatus
from tests.notifications import support

pytestmark = pytest.mark.django_db

# Wednesday 15 July 2026, 11:00 Eastern: inside every sending window.
MIDDAY = datetime(2026, 7, 15, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def midday():
    with time_machine.travel(MIDDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def smtp_down(settings):
    """Django's real SMTP backend, pointed at a port where no mail server listens."""
    with support.closed_port() as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        yield


def care_email(user, key="mail-1"):
    return services.message_schedule(
        recipient=user,
        dedupe_key=key,
        template_key="appointment_reminder",
        category="care",
        channel="email",
        context={"path": "/appointments/abc"},
    )


def test_email_send_raises_the_channel_neutral_transient_error(smtp_down):
    outgoing = OutgoingEmail(to="a@example.com", subject="s", body="b", message_id="m1")
    with pytest.raises(TransientSendError) as caught:
        email_send(outgoing)
    assert caught.value.code == "smtp_unavailable"


def test_an_unreachable_mail_server_is_retried_then_fails(patient, settings, smtp_down, midday):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    message = care_email(patient)

    stats = dispatch_due()
    message.refresh_from_db()
    assert (stats.retried, stats.failed) == (1, 0)
    assert (message.channel, message.status) == (Channel.EMAIL, MessageStatus.SCHEDULED)
    assert (message.status_reason, message.provider_error_code) == (
        "transient_error",
        "smtp_unavailable",
    )
    assert message.send_at > MIDDAY

    midday.move_to(message.send_at)
    stats = dispatch_due()
    message.refresh_from_db()
    assert stats.failed == 1
    assert (message.status, message.status_reason, message.attempts) == (
        MessageStatus.FAILED,
        "retries_exhausted",
        2,
    )
    assert message.provider_error_code == "smtp_unavailable"
    assert not mail.outbox
    assert not PhoneStatus.objects.exists()  # an email failure says nothing about a number


def test_a_refused_recipient_ends_the_email_for_good(patient, settings):
    settings.EMAIL_BACKEND = "tests.notifications.support.RecipientRefusingEmailBackend"
    message = care_email(patient)

    stats = dispatch_due()
    message.refresh_from_db()
    assert (stats.failed, stats.retried) == (1, 0)
    assert (message.status, message.status_reason, message.provider_error_code) == (
        MessageStatus.FAILED,
        "permanent_error",
        "smtp_recipient_refused",
    )
    assert not PhoneStatus.objects.exists()


def test_an_email_that_goes_out_is_sent(patient):
    message = care_email(patient)
    assert dispatch_due().sent == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == f"email-{message.public_id}"
    assert [m.to for m in mail.outbox] == [[patient.email]]

"""The messages around a booking: confirmation, reminders 24 h and 1 h before (deduped per
appointment and kind, never after the visit has started), moved by a reschedule, canceled
by a cancellation; both sides told."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from notifications.dispatch import dispatch_due
from notifications.models import Message, MessageStatus
from notifications.templates import clinical_words_in, render_email, render_sms
from scheduling.models import Appointment
from tests.actors import client_for
from tests.scheduling.support_book import (
    NOW,
    OTHER_SLOT,
    SLOT,
    book,
    office,
    pending_keys,
    ready_for_consultation,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def ready(patient, physician):
    office(physician)
    ready_for_consultation(patient)


def booked(patient, physician, **kwargs):
    response = book(patient, physician, **kwargs)
    assert response.status_code == 201, response.content
    return Appointment.objects.get(public_id=response.json()["id"])


def keys(appointment, *events):
    prefix = f"appointment:{appointment.public_id}"
    found = set()
    for event in events:
        found |= {f"{prefix}:{event}:sms", f"{prefix}:{event}:email"}
        if not event.startswith("reminder"):  # the physician is told, not reminded
            found.add(f"{prefix}:{event}:physician")
    return found


def test_booking_schedules_the_confirmation_and_both_reminders(patient, physician):
    appointment = booked(patient, physician)
    assert pending_keys() == keys(appointment, "confirmation", "reminder:24h", "reminder:1h")
    path = f"/appointments/{appointment.public_id}"
    for message in Message.objects.all():
        assert message.context == {"path": path}
        assert message.category == "care"
        assert message.expires_at == SLOT
    reminders = Message.objects.filter(template_key="appointment_reminder")
    assert sorted({m.send_at for m in reminders}) == [
        SLOT - timedelta(hours=24),
        SLOT - timedelta(hours=1),
    ]
    assert {m.recipient for m in reminders} == {patient}
    (to_physician,) = Message.objects.filter(recipient=physician.user)
    assert (to_physician.channel, to_physician.template_key) == (
        "email",
        "appointment_confirmation",
    )


def test_a_reminder_whose_time_has_passed_is_not_scheduled(patient, physician, clock):
    clock.move_to(SLOT - timedelta(hours=20))
    appointment = booked(patient, physician)
    assert pending_keys() == keys(appointment, "confirmation", "reminder:1h")


def test_rescheduling_moves_the_reminders(patient, physician):
    old = booked(patient, physician)
    response = client_for(patient).post(
        f"/api/scheduling/appointments/{old.public_id}/reschedule",
        {"starts_at": OTHER_SLOT.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    new = Appointment.objects.get(public_id=response.json()["id"])
    old_keys = keys(old, "confirmation", "reminder:24h", "reminder:1h")
    canceled = Message.objects.filter(dedupe_key__in=old_keys)
    assert set(canceled.values_list("status", flat=True)) == {MessageStatus.CANCELED}
    assert pending_keys() == keys(new, "changed", "reminder:24h", "reminder:1h")
    moved = Message.objects.filter(dedupe_key__startswith=f"appointment:{new.public_id}:reminder")
    assert sorted({m.send_at for m in moved}) == [
        OTHER_SLOT - timedelta(hours=24),
        OTHER_SLOT - timedelta(hours=1),
    ]
    assert {m.expires_at for m in moved} == {OTHER_SLOT}
    told = Message.objects.filter(template_key="appointment_changed")
    assert {m.recipient for m in told} == {patient, physician.user}


def test_canceling_cancels_the_reminders_and_tells_both_sides(patient, physician):
    appointment = booked(patient, physician)
    response = client_for(physician.user).post(
        f"/api/scheduling/appointments/{appointment.public_id}/cancel",
        {"reason": "Called away."},
        format="json",
    )
    assert response.status_code == 200
    reminders = Message.objects.filter(template_key="appointment_reminder")
    assert set(reminders.values_list("status", flat=True)) == {MessageStatus.CANCELED}
    assert pending_keys() == keys(appointment, "canceled")
    told = Message.objects.filter(template_key="appointment_canceled")
    assert {(m.recipient, m.channel) for m in told} == {
        (patient, "sms"),
        (patient, "email"),
        (physician.user, "email"),
    }
    assert all(m.expires_at is None for m in told)


def test_the_physician_is_told_by_email_and_the_texts_say_nothing_clinical(
    patient, physician, settings
):
    booked(patient, physician, kind="consultation")
    dispatch_due()
    recipients = {address for email in mail.outbox for address in email.to}
    assert {physician.user.email, patient.email} <= recipients
    for message in Message.objects.all():
        texts = [render_sms(message.template_key, message.context)]
        texts += render_email(message.template_key, message.context)
        for text in texts:
            assert clinical_words_in(text) == []
            assert "psychiatr" not in text.lower()  # no specialty either
            assert physician.last_name not in text
            assert patient.patient.legal_last_name not in text

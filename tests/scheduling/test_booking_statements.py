"""What booking costs the database: its seven messages go to the outbox in one INSERT ...
RETURNING (notifications.services.messages_schedule), not a get_or_create apiece."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Message
from scheduling.services.booking import appointment_book
from tests.scheduling.support_book import NOW, SLOT, office, ready_for_check_in

pytestmark = pytest.mark.django_db


def test_a_check_in_booking_schedules_its_messages_in_one_statement(patient, physician):
    with time_machine.travel(NOW, tick=False):
        office(physician)
        ready_for_check_in(patient)
        with CaptureQueriesContext(connection) as booking:
            appointment_book(
                patient=patient.patient,
                physician=physician,
                kind="check_in",
                starts_at=SLOT,
                actor=patient,
            )
    outbox = [q["sql"] for q in booking if '"notifications_message"' in q["sql"]]
    assert Message.objects.count() == 7  # confirmation x3, reminders 24 h and 1 h x2
    assert len(outbox) == 1
    assert outbox[0].startswith('INSERT INTO "notifications_message"')

"""What booking costs the database: its seven messages go to the outbox in one INSERT ...
RETURNING (notifications.services.messages_schedule), not a get_or_create apiece."""

from __future__ import annotations

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Message
from scheduling.services.booking import appointment_book
from tests.actors import client_for
from tests.scheduling.support_book import NOW, SLOT, book, office, ready_for_check_in

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


def test_a_patient_books_a_check_in_in_a_fixed_number_of_statements(patient, physician):
    """10: the session, the patient with every gate's facts (one query), the physician, the
    slot check, the appointment, its audit event and its messages, and the disclosure's
    licences after the commit (BEGIN and COMMIT are a savepoint here, in the test's
    transaction)."""
    with time_machine.travel(NOW, tick=False):
        office(physician)
        ready_for_check_in(patient)
        client = client_for(patient)
        with CaptureQueriesContext(connection) as booking:
            response = book(patient, physician, kind="check_in", client=client)
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in booking.captured_queries]
    assert len(statements) == 10, "\n".join(statements)

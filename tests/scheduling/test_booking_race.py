"""Concurrent bookings on PostgreSQL: real threads, each with its own connection, released
together by a barrier. The slot search lets every request through (none is booked yet);
the exclusion constraints and the partial unique decide."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction

from scheduling.models import Appointment
from tests.actors import client_for
from tests.concurrency import race
from tests.factories import PatientFactory
from tests.scheduling.support import appointment_for
from tests.scheduling.support_book import (
    NOW,
    SLOT,
    book,
    error,
    office,
    ready_for_consultation,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def outcome(responses: list[Any], loser: str) -> list[int]:
    """The statuses, sorted; every refusal must be `loser`'s constraint or, for a thread
    that started after the winner committed, the slot search's own refusal."""
    assert not [r for r in responses if isinstance(r, BaseException)], responses
    codes = {error(r)[0] for r in responses if r.status_code != 201}
    assert codes <= {loser, "slot_unavailable"}, codes
    return sorted(r.status_code for r in responses)


def test_twenty_requests_for_one_slot_make_one_appointment(patient, physician):
    office(physician)
    ready_for_consultation(patient)
    clients = [client_for(patient) for _ in range(20)]
    responses = race([lambda c=c: book(patient, physician, client=c) for c in clients])
    assert outcome(responses, "slot_taken") == [201] + [409] * 19
    assert Appointment.objects.count() == 1


def test_two_patients_racing_for_one_slot(patient, physician):
    office(physician)
    rival = PatientFactory().user
    for user in (patient, rival):
        ready_for_consultation(user)
    clients = {user: client_for(user) for user in (patient, rival)}
    responses = race([lambda u=u: book(u, physician, client=clients[u]) for u in (patient, rival)])
    assert outcome(responses, "slot_taken") == [201, 409]
    assert Appointment.objects.count() == 1


def test_one_patient_racing_for_two_physicians_at_the_same_time(
    patient, physician, physician_licensed_elsewhere
):
    # Both may treat the patient here: give the second physician a Florida license.
    second = physician_licensed_elsewhere
    second.licenses.update(state="FL")
    for doctor in (physician, second):
        office(doctor)
    ready_for_consultation(patient)
    clients = [client_for(patient), client_for(patient)]
    responses = race(
        [
            lambda: book(patient, physician, client=clients[0]),
            lambda: book(patient, second, client=clients[1]),
        ]
    )
    assert outcome(responses, "patient_busy") == [201, 409]
    assert Appointment.objects.count() == 1


def test_two_bookings_caught_in_a_deadlock_lose_the_time_with_a_409(
    patient, physician, physician_licensed_elsewhere
):
    """Two clashing INSERTs can each wait, in the exclusion constraints' check, for the
    other to end: made to happen here. A holder books the rival's time with another
    physician (uncommitted); the rival's booking enters the physician's index, then waits
    on the holder in the patient's check; the holder then takes the physician's time and
    waits on the rival. PostgreSQL fails the rival's booking (the holder waits longer
    before it looks for deadlocks): that is the time lost, a 409, not a 500."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("setting deadlock_timeout needs a superuser")
    office(physician)
    rival = PatientFactory().user
    ready_for_consultation(rival)
    rival_client = client_for(rival)
    holding = threading.Event()

    def rival_waits_on_a_lock() -> bool:
        for _ in range(400):
            with connection.cursor() as cursor:
                # Inside a transaction the activity view is a snapshot unless cleared.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0]:
                    return True
            threading.Event().wait(0.05)
        return False

    def holder() -> str:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '30s'")
            appointment_for(rival, physician_licensed_elsewhere, SLOT)
            holding.set()
            assert rival_waits_on_a_lock()
            appointment_for(patient, physician, SLOT)
        return "committed"

    def booking() -> Any:
        assert holding.wait(timeout=30)
        return book(rival, physician, client=rival_client)

    held, response = race([holder, booking])
    assert held == "committed", held
    assert not isinstance(response, BaseException), response
    assert response.status_code == 409, response.content
    assert error(response)[0] == "slot_unavailable"
    assert Appointment.objects.count() == 2  # the holder's two, none of the rival's booking

"""Concurrent bookings on PostgreSQL: real threads, each with its own connection, released
together by a barrier. The slot search lets every request through (none is booked yet);
the exclusion constraints and the partial unique decide."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from scheduling.models import Appointment
from tests.actors import client_for
from tests.concurrency import race
from tests.factories import PatientFactory
from tests.scheduling.support_book import (
    NOW,
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

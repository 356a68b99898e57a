"""Seams between the scheduling parts found in review: booking while a safety flag is
open, a license that lapses before a booked visit, and the like."""

from __future__ import annotations

import pytest
import time_machine

from patients.models import SafetyFlag
from scheduling.models import Appointment
from tests.scheduling.support_book import NOW, book, error, office, ready_for_check_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def hours(physician):
    office(physician)


def test_an_open_safety_flag_refuses_the_patients_check_in_but_not_the_physicians(
    patient, physician
):
    ready_for_check_in(patient)
    SafetyFlag.objects.create(patient=patient.patient, kind="self_harm_thoughts", source="test")

    refused = book(patient, physician, kind="check_in")
    assert refused.status_code == 409
    assert error(refused) == ("booking_refused", {"patient": ["safety_flag_open"]})

    # The physician arranges the visit that reviews the flag.
    booked = book(physician.user, physician, kind="check_in", patient=patient)
    assert booked.status_code == 201, booked.content
    assert Appointment.objects.get().booked_by == physician.user

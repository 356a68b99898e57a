"""Seams between the scheduling parts found in review: booking while a safety flag is
open, a license that lapses before a booked visit, and the like."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import LicenseStatus
from patients.models import SafetyFlag
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.cadence import check_in_status
from scheduling.services.cadence import check_in_nudges_schedule
from tests.actors import client_for
from tests.patients.support import intake_for
from tests.scheduling.support_book import NOW, book, error, office, ready_for_check_in
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def hours(physician):
    office(physician)


def test_an_open_safety_flag_refuses_a_check_in_whoever_books_it(patient, physician):
    # A check-in needs patient_clearance to pass (issue 10); the flag is reviewed first.
    ready_for_check_in(patient)
    SafetyFlag.objects.create(patient=patient.patient, kind="self_harm_thoughts", source="test")
    for booker in (patient, physician.user):
        refused = book(booker, physician, kind="check_in", patient=patient)
        assert refused.status_code == 409
        assert error(refused) == ("booking_refused", {"patient": ["safety_flag_open"]})
    assert not Appointment.objects.exists()


def start(user: Any, visit: Appointment, state: str) -> Any:
    return client_for(user).post(
        f"/api/scheduling/appointments/{visit.public_id}/start",
        {"confirmed_state": state},
        format="json",
    )


def test_a_license_lapsed_after_booking_is_said_at_the_start_of_the_visit(
    patient, other_patient, physician
):
    licensed = visit_in(other_patient, physician, -5)
    response = start(physician.user, licensed, "NJ")
    assert response.status_code == 200, response.content
    assert response.json()["prescribing_blocked_by"] == []

    booked = visit_in(patient, physician, -5 + 60)  # booked while the license was good
    physician.licenses.filter(state="FL").update(status=LicenseStatus.SUSPENDED)
    with time_machine.travel(booked.starts_at, tick=False):
        response = start(physician.user, booked, "FL")
    # The visit may be held; the physician is told it cannot lead to a prescription.
    assert response.status_code == 200, response.content
    assert response.json()["prescribing_blocked_by"] == ["physician_not_licensed_in_state"]


def test_a_deactivated_physicians_ical_feed_stops(physician):
    response = client_for(physician.user).post("/api/scheduling/agenda/ical-token")
    assert response.status_code == 201
    path = urlsplit(response.json()["url"]).path
    assert APIClient().get(path).status_code == 200

    physician.user.is_active = False
    physician.user.save(update_fields=["is_active"])

    assert APIClient().get(path).status_code == 404


def test_a_check_in_left_in_progress_does_not_stop_the_check_in_nudge_forever(patient, physician):
    """The cadence's "booked" is the calendar's "upcoming": a visit started and never
    completed is not a booking once over, so the patient is still nudged to book."""
    intake_for(patient.patient, submitted_at=NOW - timedelta(days=40))
    visit_in(patient, physician, -60 * 24 * 5, status=AppointmentStatus.IN_PROGRESS)

    status = check_in_status(patient.patient, now=NOW)
    assert status.due and status.booked_for is None
    assert check_in_nudges_schedule(now=NOW) == 1

    later = visit_in(patient, physician, 60 * 24 * 3)  # a real upcoming one still counts
    assert check_in_status(patient.patient, now=NOW).booked_for == later.starts_at

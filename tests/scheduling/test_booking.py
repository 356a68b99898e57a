"""Booking: who may book whom, the gates of each kind with their reason codes, the slot
rule, the constraints as 409s, the disclosure, and reading an appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError

from audit.models import AuditEvent
from patients.models import Assessment
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.booking import appointment_book
from tests.actors import client_for
from tests.scheduling.support import appointment_for
from tests.scheduling.support_book import (
    LICENSE_NUMBER,
    NOW,
    OTHER_SLOT,
    SLOT,
    book,
    cleared,
    error,
    office,
    ready_for_check_in,
    ready_for_consultation,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def hours(physician):
    office(physician)


def test_a_patient_books_a_consultation_and_gets_the_disclosure(patient, physician):
    ready_for_consultation(patient)
    response = book(patient, physician)
    assert response.status_code == 201, response.content
    body = response.json()
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.physician, appointment.booked_by) == (
        patient.patient,
        physician,
        patient,
    )
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.starts_at == SLOT
    assert appointment.ends_at == SLOT + timedelta(minutes=30)
    assert appointment.blocked_until == appointment.ends_at + timedelta(minutes=10)
    assert body["id"] == str(appointment.public_id)
    assert body["local_starts_at"] == "2026-12-07T09:00:00-06:00"  # Central patient
    assert body["disclosure"] == {
        "state": "FL",
        "name": f"{physician.first_name} Byrd",
        "title": "MD",
        "license_number": LICENSE_NUMBER,
        "board_certification": "American Board of Psychiatry and Neurology",
    }
    assert body["visit_note"] is None
    assert AuditEvent.objects.filter(
        action="create", object_type="scheduling.appointment", object_id=body["id"]
    ).exists()


def test_the_disclosure_names_the_license_of_the_patients_state(other_patient, physician):
    physician.licenses.filter(state="NJ").update(number="NJ-777")
    ready_for_consultation(other_patient)
    response = book(other_patient, physician)
    assert response.status_code == 201, response.content
    assert response.json()["disclosure"]["state"] == "NJ"
    assert response.json()["disclosure"]["license_number"] == "NJ-777"


def test_a_claimed_assessment_alone_is_enough_for_a_consultation(patient, physician):
    Assessment.objects.create(
        state="FL",
        outcome="likely_eligible",
        ruleset_version="test",
        claim_token_hash="x" * 64,
        claimed_by=patient.patient,
        claimed_at=NOW,
    )
    assert book(patient, physician).status_code == 201


def test_a_consultation_needs_a_submitted_assessment_or_intake(patient, physician):
    response = book(patient, physician)
    assert response.status_code == 409
    assert error(response) == (
        "booking_refused",
        {"patient": ["no_submitted_assessment_or_intake"]},
    )
    assert not Appointment.objects.exists()


def test_an_unverified_email_is_refused_with_the_other_reasons(patient, physician):
    patient.email_verified_at = None
    patient.save()
    response = book(patient, physician)
    assert response.status_code == 409
    assert error(response) == (
        "booking_refused",
        {"patient": ["email_unverified", "no_submitted_assessment_or_intake"]},
    )


def test_a_check_in_lists_every_missing_clearance_and_the_membership(patient, physician):
    response = book(patient, physician, kind="check_in")
    assert response.status_code == 409
    code, fields = error(response)
    assert code == "booking_refused"
    assert fields["patient"] == [
        "no_approved_intake",
        "consent_outstanding:treatment",
        "consent_outstanding:telehealth",
        "membership_required",
    ]


def test_a_cleared_patient_without_membership_is_refused_for_it_alone(patient, physician):
    cleared(patient)
    response = book(patient, physician, kind="check_in")
    assert error(response) == ("booking_refused", {"patient": ["membership_required"]})


def test_a_cleared_member_books_a_check_in(patient, physician):
    ready_for_check_in(patient)
    response = book(patient, physician, kind="check_in")
    assert response.status_code == 201, response.content
    assert Appointment.objects.get().ends_at == SLOT + timedelta(minutes=20)


@pytest.mark.parametrize(
    "starts_at",
    [
        SLOT - timedelta(hours=2),  # 08:00 Eastern: before office hours
        SLOT + timedelta(minutes=5),  # not on the slot grid
        NOW + timedelta(hours=1),  # inside the minimum notice
        SLOT + timedelta(days=70),  # past the horizon
    ],
)
def test_a_time_that_is_not_an_open_slot_is_refused(patient, physician, starts_at):
    ready_for_consultation(patient)
    response = book(patient, physician, starts_at=starts_at)
    assert response.status_code == 409
    assert error(response)[0] == "slot_unavailable"


def test_a_slot_inside_another_visits_buffer_is_refused(patient, other_patient, physician):
    # 14:35-14:55 UTC, and the physician's 10-minute buffer to 15:05.
    appointment_for(other_patient, physician, SLOT - timedelta(minutes=25))
    ready_for_consultation(patient)
    assert error(book(patient, physician))[0] == "slot_unavailable"


def test_one_upcoming_appointment_per_kind(patient, physician):
    ready_for_consultation(patient)
    assert book(patient, physician).status_code == 201
    response = book(patient, physician, starts_at=OTHER_SLOT)
    assert response.status_code == 409
    assert error(response)[0] == "already_booked"
    assert Appointment.objects.count() == 1


# The constraints have the last word: with the slot search out of the way (as for two
# requests that both saw the slot open), each violation is its own 409.


@pytest.fixture
def search_lets_everything_through(monkeypatch):
    monkeypatch.setattr("scheduling.services.booking.slot_bookable", lambda **kwargs: True)


@pytest.mark.usefixtures("search_lets_everything_through")
def test_the_physician_constraint_is_slot_taken(patient, other_patient, physician):
    appointment_for(other_patient, physician, SLOT + timedelta(minutes=15))
    ready_for_consultation(patient)
    assert error(book(patient, physician)) == ("slot_taken", {})


@pytest.mark.usefixtures("search_lets_everything_through")
def test_the_patient_constraint_is_patient_busy(patient, physician, physician_licensed_elsewhere):
    appointment_for(patient, physician_licensed_elsewhere, SLOT, kind="check_in")
    ready_for_consultation(patient)
    assert error(book(patient, physician)) == ("patient_busy", {})


@pytest.mark.usefixtures("search_lets_everything_through")
def test_a_violation_of_another_constraint_is_not_turned_into_a_409(patient, physician, settings):
    settings.APPOINTMENT_MINUTES = {**settings.APPOINTMENT_MINUTES, "consultation": 0}
    ready_for_consultation(patient)
    with pytest.raises(IntegrityError, match="appointment_times_ordered"):
        appointment_book(
            patient=patient.patient,
            physician=physician,
            kind="consultation",
            starts_at=SLOT,
            actor=patient,
        )


# --- staff -----------------------------------------------------------------------------


def test_a_physician_books_a_patient_they_may_treat_with_themself(patient, physician):
    ready_for_consultation(patient)
    response = book(physician.user, physician, patient=patient)
    assert response.status_code == 201, response.content
    assert Appointment.objects.get().booked_by == physician.user


def test_a_physician_cannot_book_another_physicians_calendar(
    patient, physician, physician_licensed_elsewhere
):
    ready_for_consultation(patient)
    response = book(physician_licensed_elsewhere.user, physician, patient=patient)
    assert response.status_code == 404  # the Florida patient is not theirs to see
    other = physician_licensed_elsewhere
    office(other)
    response = book(physician.user, other, patient=patient)
    assert response.status_code == 403


def test_staff_must_name_the_patient(physician):
    response = book(physician.user, physician)
    assert response.status_code == 400
    assert "patient" in error(response)[1]


def test_an_ops_admin_books_any_patient_with_a_physician_who_may_treat(
    patient, physician, physician_licensed_elsewhere, ops_admin
):
    ready_for_consultation(patient)
    office(physician_licensed_elsewhere)
    response = book(ops_admin, physician_licensed_elsewhere, patient=patient)
    assert response.status_code == 409  # no Florida license: no slot for this patient
    assert error(response)[0] == "slot_unavailable"
    response = book(ops_admin, physician, patient=patient)
    assert response.status_code == 201, response.content
    assert Appointment.objects.get().booked_by == ops_admin


def test_an_unknown_physician_is_404(patient, physician):
    ready_for_consultation(patient)
    physician.user.is_active = False
    physician.user.save()
    assert book(patient, physician).status_code == 404


# --- reading ---------------------------------------------------------------------------


def test_the_appointment_is_read_by_its_patient_physician_and_ops_admins_only(
    patient, other_patient, physician, physician_licensed_elsewhere, ops_admin
):
    appointment = appointment_for(patient, physician, SLOT)
    Appointment.objects.filter(pk=appointment.pk).update(visit_note="Doing well.")
    url = f"/api/scheduling/appointments/{appointment.public_id}"
    seen = {}
    for user in (patient, physician.user, ops_admin):
        response = client_for(user).get(url)
        assert response.status_code == 200, response.content
        seen[user.role] = response.json()
    assert seen["physician"]["visit_note"] == "Doing well."
    assert seen["ops_admin"]["visit_note"] is None
    assert seen["patient"]["visit_note"] is None
    assert seen["patient"]["disclosure"]["license_number"] == LICENSE_NUMBER
    for outsider in (other_patient, physician_licensed_elsewhere.user):
        assert client_for(outsider).get(url).status_code == 404
    reads = AuditEvent.objects.filter(action="read", object_id=str(appointment.public_id))
    assert sorted(reads.values_list("actor_role", flat=True)) == [
        "ops_admin",
        "patient",
        "physician",
    ]
    assert set(reads.values_list("patient_id", flat=True)) == {patient.patient.public_id}

"""The visit's lifecycle: booked -> in_progress (the physician starts it with the state the
patient confirms) -> completed (the physician attests and writes the note), and every
refused move a 409 naming both states. Which completed visits can support a prescription."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection

from accounts.models import LicenseStatus
from audit.models import AuditEvent
from core.errors import NotFound, ValidationFailed
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.visits import prescribing_visit_state
from scheduling.services.visits import ALLOWED_TRANSITIONS, visit_complete, visit_start
from tests.actors import client_for
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db

S = AppointmentStatus
NOTE = "Discussed sleep and mood; continue plan.\nReview in four weeks."


def start(user: Any, visit: Appointment, state: Any = "FL") -> Any:
    return client_for(user).post(
        f"/api/scheduling/appointments/{visit.public_id}/start",
        {"confirmed_state": state},
        format="json",
    )


def complete(user: Any, visit: Appointment, **body: Any) -> Any:
    payload = {"note": NOTE, "standard_of_care_attested": True} | body
    return client_for(user).post(
        f"/api/scheduling/appointments/{visit.public_id}/complete", payload, format="json"
    )


def completed_visit(patient: Any, physician: Any, state: str = "FL") -> Appointment:
    visit = visit_in(patient, physician, -5)
    assert start(physician.user, visit, state).status_code == 200
    assert complete(physician.user, visit).status_code == 200
    visit.refresh_from_db()
    return visit


# --- the transition table ----------------------------------------------------------------


def test_the_transition_table_is_the_documented_one():
    assert {
        S.BOOKED: {S.IN_PROGRESS, S.NO_SHOW, S.CANCELED},
        S.IN_PROGRESS: {S.COMPLETED},
        S.COMPLETED: set(),
        S.NO_SHOW: set(),
        S.CANCELED: set(),
    } == ALLOWED_TRANSITIONS


@pytest.mark.parametrize("status", [s for s in S.values if s != S.BOOKED])
def test_only_a_booked_visit_starts(patient, physician, status):
    visit = visit_in(patient, physician, -5, status=status)

    response = start(physician.user, visit)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert status in error["message"] and "in_progress" in error["message"]
    visit.refresh_from_db()
    assert visit.status == status and visit.started_at is None


@pytest.mark.parametrize("status", [s for s in S.values if s != S.IN_PROGRESS])
def test_only_an_in_progress_visit_completes(patient, physician, status):
    visit = visit_in(patient, physician, -5, status=status)

    response = complete(physician.user, visit)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert status in error["message"] and "completed" in error["message"]
    visit.refresh_from_db()
    assert visit.status == status and visit.visit_note == ""


# --- start -------------------------------------------------------------------------------


def test_the_physician_starts_the_visit_with_the_confirmed_state(patient, physician):
    visit = visit_in(patient, physician, 5)

    response = start(physician.user, visit, "NJ")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["confirmed_state"]) == ("in_progress", "NJ")
    visit.refresh_from_db()
    assert visit.status == S.IN_PROGRESS and visit.confirmed_state == "NJ"
    assert visit.started_at is not None
    event = AuditEvent.objects.get(object_id=str(visit.public_id), detail__event="visit_started")
    assert event.actor_id == physician.user.pk


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        (timedelta(minutes=-10, seconds=-1), 409, "room_not_open"),
        (timedelta(minutes=-10), 200, None),
        (timedelta(minutes=50), 409, "room_closed"),
    ],
    ids=["before-the-room-opens", "when-it-opens", "after-it-closed"],
)
def test_a_visit_starts_only_while_its_room_is_open(patient, physician, offset, status, code):
    visit = visit_in(patient, physician, 60 * 24)
    with time_machine.travel(visit.starts_at + offset, tick=False):
        response = start(physician.user, visit)
    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code
        visit.refresh_from_db()
        assert visit.status == S.BOOKED


@pytest.mark.parametrize("state", ["CA", "PR", "DC", "GU"])
def test_any_us_state_or_territory_is_accepted(patient, physician, state):
    visit = visit_in(patient, physician, 5)
    assert start(physician.user, visit, state).status_code == 200


@pytest.mark.parametrize("state", ["fl", "ZZ", "Florida", "", None, 12, "F"])
def test_anything_else_is_400_on_the_field(patient, physician, state):
    visit = visit_in(patient, physician, 5)
    response = start(physician.user, visit, state)
    assert response.status_code == 400
    assert "confirmed_state" in response.json()["error"]["fields"]
    visit.refresh_from_db()
    assert visit.status == S.BOOKED


def test_start_refuses_unknown_fields(patient, physician):
    visit = visit_in(patient, physician, 5)
    response = client_for(physician.user).post(
        f"/api/scheduling/appointments/{visit.public_id}/start",
        {"confirmed_state": "FL", "status": "completed"},
        format="json",
    )
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_another_physician_cannot_start_it(patient, physician, physician_licensed_elsewhere):
    visit = visit_in(patient, physician, 5)
    assert start(physician_licensed_elsewhere.user, visit).status_code == 404
    with pytest.raises(NotFound):
        visit_start(
            appointment=visit, actor=physician_licensed_elsewhere.user, confirmed_state="FL"
        )


def test_the_patient_cannot_start_it(patient, physician):
    visit = visit_in(patient, physician, 5)
    assert start(patient, visit).status_code == 403


# --- complete ----------------------------------------------------------------------------


def test_the_physician_completes_it_as_a_video_visit(patient, physician):
    visit = visit_in(patient, physician, -5)
    start(physician.user, visit, "FL")

    response = complete(physician.user, visit)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["video_visit"] is True and body["standard_of_care_attested"] is True
    assert "note" not in body and "visit_note" not in body
    visit.refresh_from_db()
    assert visit.status == S.COMPLETED and visit.completed_at is not None
    assert visit.video_visit and visit.standard_of_care_attested
    assert visit.confirmed_state == "FL"
    assert visit.visit_note == NOTE
    event = AuditEvent.objects.get(object_id=str(visit.public_id), detail__event="visit_completed")
    assert event.patient_id == patient.patient.public_id


def test_the_note_is_encrypted_at_rest(patient, physician):
    visit = completed_visit(patient, physician)
    with connection.cursor() as cursor:
        cursor.execute("SELECT visit_note FROM scheduling_appointment WHERE id = %s", [visit.pk])
        (raw,) = cursor.fetchone()
    assert raw and raw != NOTE
    assert "sleep" not in raw and "Discussed" not in raw


@pytest.mark.parametrize("attested", [False, None, "true", 1])
def test_completion_needs_the_attestation(patient, physician, attested):
    visit = visit_in(patient, physician, -5, status=S.IN_PROGRESS)

    response = complete(physician.user, visit, standard_of_care_attested=attested)

    assert response.status_code == 400
    assert "standard_of_care_attested" in response.json()["error"]["fields"]
    visit.refresh_from_db()
    assert visit.status == S.IN_PROGRESS and visit.visit_note == ""


def test_the_attestation_is_refused_by_the_service_too(patient, physician):
    visit = visit_in(patient, physician, -5, status=S.IN_PROGRESS)

    with pytest.raises(ValidationFailed):
        visit_complete(
            appointment=visit, actor=physician.user, note=NOTE, standard_of_care_attested=False
        )


@pytest.mark.parametrize("note", ["", "bad\x00note", "x" * 20001])
def test_the_note_must_be_plain_text(patient, physician, note):
    visit = visit_in(patient, physician, -5, status=S.IN_PROGRESS)
    response = complete(physician.user, visit, note=note)
    assert response.status_code == 400
    assert "note" in response.json()["error"]["fields"]


def test_only_the_visits_physician_completes_it(patient, physician, physician_licensed_elsewhere):
    visit = visit_in(patient, physician, -5, status=S.IN_PROGRESS)

    assert complete(physician_licensed_elsewhere.user, visit).status_code == 404
    assert complete(patient, visit).status_code == 403
    with pytest.raises(NotFound):
        visit_complete(
            appointment=visit,
            actor=physician_licensed_elsewhere.user,
            note=NOTE,
            standard_of_care_attested=True,
        )
    visit.refresh_from_db()
    assert visit.status == S.IN_PROGRESS


def test_a_visit_completes_once(patient, physician):
    visit = completed_visit(patient, physician)
    response = complete(physician.user, visit, note="second note")
    assert response.status_code == 409
    visit.refresh_from_db()
    assert visit.visit_note == NOTE


# --- can it support a prescription? -----------------------------------------------------


@pytest.mark.parametrize("state", ["FL", "NJ"])
def test_a_completed_video_visit_in_fl_or_nj_supports_a_prescription(patient, physician, state):
    verdict = prescribing_visit_state(completed_visit(patient, physician, state))
    assert verdict.eligible and verdict.reasons == ()
    assert verdict.confirmed_state == state


def test_a_visit_outside_fl_and_nj_is_held_but_supports_no_prescription(patient, physician):
    visit = completed_visit(patient, physician, "GA")
    assert visit.status == S.COMPLETED  # the visit itself went ahead
    verdict = prescribing_visit_state(visit)
    assert not verdict.eligible
    assert verdict.reasons == ("patient_outside_practice_states",)


def test_a_visit_not_completed_supports_no_prescription(patient, physician):
    booked = visit_in(patient, physician, 5)
    assert prescribing_visit_state(booked).reasons == (
        "visit_not_completed",
        "not_a_video_visit",
        "standard_of_care_not_attested",
        "state_not_confirmed",
    )
    start(physician.user, booked, "FL")
    booked.refresh_from_db()
    assert "visit_not_completed" in prescribing_visit_state(booked).reasons


def test_the_physician_must_be_licensed_where_the_patient_was(
    patient, physician_licensed_elsewhere
):
    visit = completed_visit(patient, physician_licensed_elsewhere, "FL")
    assert prescribing_visit_state(visit).reasons == ("physician_not_licensed_in_state",)


def test_a_license_lapsed_at_the_visit_supports_no_prescription(patient, physician):
    physician.licenses.filter(state="NJ").update(status=LicenseStatus.SUSPENDED)
    visit = completed_visit(patient, physician, "NJ")
    assert prescribing_visit_state(visit).reasons == ("physician_not_licensed_in_state",)

"""Rescheduling and canceling: who may, until when, with what reason, and what becomes of
the old appointment."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from scheduling.models import Appointment, AppointmentStatus
from tests.actors import client_for
from tests.scheduling.support_book import (
    NOW,
    OTHER_SLOT,
    SLOT,
    book,
    error,
    office,
    ready_for_consultation,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def booked(patient, physician):
    """The patient's consultation on Monday, booked through the API."""
    office(physician)
    ready_for_consultation(patient)
    response = book(patient, physician)
    assert response.status_code == 201, response.content
    return Appointment.objects.get(public_id=response.json()["id"])


def reschedule(user, appointment, starts_at, **body):
    return client_for(user).post(
        f"/api/scheduling/appointments/{appointment.public_id}/reschedule",
        {"starts_at": starts_at.isoformat(), **body},
        format="json",
    )


def cancel(user, appointment, **body):
    return client_for(user).post(
        f"/api/scheduling/appointments/{appointment.public_id}/cancel", body, format="json"
    )


def fresh(appointment):
    appointment.refresh_from_db()
    return appointment


def test_a_patient_moves_their_visit(patient, booked):
    response = reschedule(patient, booked, OTHER_SLOT)
    assert response.status_code == 201, response.content
    new = Appointment.objects.get(public_id=response.json()["id"])
    assert (new.status, new.starts_at, new.kind) == ("booked", OTHER_SLOT, booked.kind)
    assert (new.patient, new.physician, new.rescheduled_from) == (
        booked.patient,
        booked.physician,
        booked,
    )
    assert response.json()["rescheduled_from"] == str(booked.public_id)
    old = fresh(booked)
    assert (old.status, old.canceled_by, old.late_cancellation) == ("canceled", patient, False)
    assert client_for(patient).get(f"/api/scheduling/appointments/{old.public_id}").json()[
        "rescheduled_to"
    ] == str(new.public_id)
    events = AuditEvent.objects.filter(object_type="scheduling.appointment")
    assert set(events.values_list("object_id", "action")) >= {
        (str(old.public_id), "update"),
        (str(new.public_id), "create"),
    }


def test_moving_a_visit_into_its_own_time_does_not_count_the_old_one(patient, booked):
    # 15 minutes later overlaps the old visit (and its buffer) and is the same kind: only
    # possible because the old one is canceled first, inside the same transaction.
    response = reschedule(patient, booked, SLOT + timedelta(minutes=15))
    assert response.status_code == 201, response.content
    assert Appointment.objects.filter(status="booked").count() == 1


def test_a_refused_move_leaves_the_visit_as_it_was(patient, booked):
    response = reschedule(patient, booked, SLOT + timedelta(minutes=7))
    assert response.status_code == 409
    assert error(response)[0] == "slot_unavailable"
    assert fresh(booked).status == AppointmentStatus.BOOKED
    assert fresh(booked).canceled_at is None
    assert Appointment.objects.count() == 1


def test_a_patient_cannot_move_a_visit_inside_the_cutoff(patient, booked, clock):
    clock.move_to(SLOT - timedelta(hours=11, minutes=59))
    response = reschedule(patient, booked, OTHER_SLOT)
    assert response.status_code == 409
    assert error(response)[0] == "too_late_to_reschedule"
    assert fresh(booked).status == AppointmentStatus.BOOKED


def test_a_patient_may_move_a_visit_right_up_to_the_cutoff(patient, booked, clock):
    clock.move_to(SLOT - timedelta(hours=12))
    assert reschedule(patient, booked, OTHER_SLOT).status_code == 201


def test_a_patient_cancels_in_time(patient, booked):
    response = cancel(patient, booked)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["late_cancellation"]) == ("canceled", False)
    old = fresh(booked)
    assert (old.status, old.canceled_by, old.late_cancellation) == ("canceled", patient, False)
    assert AuditEvent.objects.filter(
        object_id=str(booked.public_id), action="update", detail__late_cancellation=False
    ).exists()


def test_a_patient_cancels_late(patient, booked, clock):
    clock.move_to(SLOT - timedelta(hours=3))
    response = cancel(patient, booked, reason="Something came up.")
    assert response.status_code == 200
    assert response.json()["late_cancellation"] is True
    assert fresh(booked).late_cancellation is True
    assert fresh(booked).cancel_reason == "Something came up."


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_staff_must_give_a_reason(physician, ops_admin, booked, reason):
    body = {} if reason is None else {"reason": reason}
    for user in (physician.user, ops_admin):
        response = cancel(user, booked, **body)
        assert response.status_code == 400
        assert "reason" in error(response)[1]
        response = reschedule(user, booked, OTHER_SLOT, **body)
        assert response.status_code == 400
        assert "reason" in error(response)[1]
    assert fresh(booked).status == AppointmentStatus.BOOKED


def test_the_physician_cancels_any_time_and_it_is_not_late(physician, booked, clock):
    clock.move_to(SLOT - timedelta(minutes=30))
    response = cancel(physician.user, booked, reason="Called away.")
    assert response.status_code == 200
    assert response.json()["late_cancellation"] is False
    assert response.json()["cancel_reason"] == "Called away."
    assert fresh(booked).canceled_by == physician.user


def test_an_ops_admin_moves_a_visit_with_a_reason(ops_admin, booked):
    response = reschedule(ops_admin, booked, OTHER_SLOT, reason="Physician asked.")
    assert response.status_code == 201, response.content
    assert fresh(booked).cancel_reason == "Physician asked."
    assert Appointment.objects.get(status="booked").booked_by == ops_admin


def test_only_a_booked_visit_changes(patient, booked):
    assert cancel(patient, booked).status_code == 200
    for response in (cancel(patient, booked), reschedule(patient, booked, OTHER_SLOT)):
        assert response.status_code == 409
        assert error(response)[0] == "invalid_transition"


def test_outsiders_get_404(other_patient, physician_licensed_elsewhere, booked):
    for user in (other_patient, physician_licensed_elsewhere.user):
        assert cancel(user, booked, reason="x").status_code == 404
        assert reschedule(user, booked, OTHER_SLOT, reason="x").status_code == 404
    assert fresh(booked).status == AppointmentStatus.BOOKED

"""Visits never started become no-shows SCHEDULING_NO_SHOW_AFTER (30 minutes) after their
end: a conditional UPDATE, audited per row, run by the beat task; twice is once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from scheduling import tasks
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import visits as visit_services
from scheduling.services.visits import appointments_mark_no_show
from tests.actors import client_for
from tests.factories import PatientFactory
from tests.scheduling.support import appointment_for
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db

S = AppointmentStatus
LENGTH = 20  # a check-in's minutes


def no_show_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(detail__event="no_show"))


def test_the_beat_runs_the_task_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["scheduling-mark-no-shows"]
    assert entry == {"task": "scheduling.tasks.mark_no_shows", "schedule": 300.0}


def test_a_visit_never_started_is_a_no_show_30_minutes_after_its_end(patient, physician):
    due = visit_in(patient, physician, -(LENGTH + 30))  # ended exactly 30 minutes ago
    assert appointments_mark_no_show(now=due.ends_at + timedelta(minutes=30)) == 1
    due.refresh_from_db()
    assert due.status == S.NO_SHOW
    assert due.no_show_at == due.ends_at + timedelta(minutes=30)
    (event,) = no_show_events()
    assert event.object_id == str(due.public_id)
    assert event.patient_id == patient.patient.public_id
    assert event.actor_id is None


def test_not_a_minute_early(patient, physician):
    visit = visit_in(patient, physician, -(LENGTH + 30))
    assert appointments_mark_no_show(now=visit.ends_at + timedelta(minutes=29, seconds=59)) == 0
    visit.refresh_from_db()
    assert visit.status == S.BOOKED
    assert no_show_events() == []


@pytest.mark.parametrize("status", [S.IN_PROGRESS, S.COMPLETED, S.CANCELED, S.NO_SHOW])
def test_only_booked_visits_are_marked(patient, physician, status):
    visit = visit_in(patient, physician, -(LENGTH + 120), status=status)
    assert appointments_mark_no_show() == 0
    visit.refresh_from_db()
    assert visit.status == status and visit.no_show_at is None


def test_the_task_run_twice_marks_once(patient, physician, other_patient):
    visits = [
        visit_in(patient, physician, -(LENGTH + 45)),
        visit_in(other_patient, physician, -(LENGTH + 90)),
    ]
    upcoming = visit_in(PatientFactory().user, physician, 120)

    assert tasks.mark_no_shows.apply().get() == 2
    assert tasks.mark_no_shows.apply().get() == 0

    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses == {visits[0].pk: S.NO_SHOW, visits[1].pk: S.NO_SHOW, upcoming.pk: S.BOOKED}
    assert sorted(e.object_id for e in no_show_events()) == sorted(str(v.public_id) for v in visits)


def test_every_due_visit_is_marked_whatever_the_batch_size(physician, monkeypatch):
    monkeypatch.setattr(visit_services, "NO_SHOW_BATCH", 2)
    first_end = timezone.now().replace(microsecond=0) - timedelta(minutes=60)
    for index in range(5):  # an hour apart: clear of each other's buffer
        starts_at = first_end - timedelta(minutes=LENGTH + 60 * index)
        appointment_for(PatientFactory().user, physician, starts_at)

    assert appointments_mark_no_show() == 5
    assert Appointment.objects.filter(status=S.NO_SHOW).count() == 5
    assert len(no_show_events()) == 5


def test_a_no_show_cannot_then_be_started(patient, physician):
    visit = visit_in(patient, physician, -(LENGTH + 31))
    appointments_mark_no_show()
    response = client_for(physician.user).post(
        f"/api/scheduling/appointments/{visit.public_id}/start",
        {"confirmed_state": "FL"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"

"""A visit started and never completed is no check-in (the cadence, and the refills that
wait on it, see none), so its physician is emailed once, two hours after its end, to
complete it; the beat task run twice emails once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from notifications.models import Message
from scheduling import tasks
from scheduling.models import AppointmentStatus
from scheduling.services.visits import unfinished_visits_remind
from tests.factories import PatientFactory
from tests.scheduling.support_visit import visit_in

pytestmark = pytest.mark.django_db

S = AppointmentStatus
LENGTH = 20  # a check-in's minutes


def reminders() -> list[Message]:
    return list(Message.objects.filter(template_key="visit_unfinished"))


def test_the_beat_runs_the_task_every_15_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["scheduling-unfinished-visits"]
    assert entry == {"task": "scheduling.tasks.unfinished_visits_reminders", "schedule": 900.0}


def test_the_physician_is_emailed_two_hours_after_the_end(patient, physician):
    visit = visit_in(patient, physician, -(LENGTH + 120), status=S.IN_PROGRESS)
    assert unfinished_visits_remind(now=visit.ends_at + timedelta(hours=2)) == 1
    (message,) = reminders()
    assert message.recipient == physician.user
    assert message.channel == "email"
    assert message.context == {"path": f"/appointments/{visit.public_id}"}


def test_not_a_minute_early(patient, physician):
    visit = visit_in(patient, physician, -(LENGTH + 120), status=S.IN_PROGRESS)
    assert unfinished_visits_remind(now=visit.ends_at + timedelta(minutes=119)) == 0
    assert reminders() == []


@pytest.mark.parametrize("status", [S.BOOKED, S.COMPLETED, S.CANCELED, S.NO_SHOW])
def test_only_visits_left_in_progress(patient, physician, status):
    visit_in(patient, physician, -(LENGTH + 180), status=status)
    assert unfinished_visits_remind() == 0
    assert reminders() == []


def test_the_task_run_twice_emails_once_per_visit(patient, physician, other_patient):
    visits = [
        visit_in(patient, physician, -(LENGTH + 150), status=S.IN_PROGRESS),
        visit_in(other_patient, physician, -(LENGTH + 300), status=S.IN_PROGRESS),
    ]
    visit_in(PatientFactory().user, physician, -(LENGTH + 30), status=S.IN_PROGRESS)  # too soon

    tasks.unfinished_visits_reminders.apply().get()
    tasks.unfinished_visits_reminders.apply().get()

    assert sorted(m.context["path"] for m in reminders()) == sorted(v.app_path for v in visits)

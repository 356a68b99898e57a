"""The questionnaire due reminders: one text per patient and due date, run twice sends once,
answered reminders canceled."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from notifications.models import Message, MessageStatus
from patients.models import IntakeStatus
from patients.selectors.measurement import (
    patients_with_due_questionnaires,
)
from patients.services.measurement import questionnaire_submit
from patients.tasks import schedule_questionnaire_reminders
from tests.factories import PatientFactory
from tests.patients.support import (
    FIRST_MINUTE_DUE,
    INTAKE_AT,
    LAST_MINUTE_BEFORE_DUE,
    intake_for,
)

pytestmark = pytest.mark.django_db


def reminders():
    return list(
        Message.objects.filter(template_key="questionnaire_due")
        .order_by("dedupe_key")
        .values("recipient", "dedupe_key", "channel", "category", "context", "status")
    )


def test_reminder_task_runs_twice_schedules_once(patient):
    intake_for(patient.patient)
    pid = patient.patient.public_id
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        schedule_questionnaire_reminders()
        schedule_questionnaire_reminders()
        schedule_questionnaire_reminders.apply()  # through Celery, too
    assert reminders() == [
        {
            "recipient": patient.pk,
            "dedupe_key": f"questionnaire:{pid}:gad7+phq9:2027-03-30",
            "channel": "sms",
            "category": "care",
            "context": {"path": "/questionnaires"},
            "status": MessageStatus.SCHEDULED,
        }
    ]


def test_reminders_only_once_due(patient):
    intake_for(patient.patient)
    with time_machine.travel(LAST_MINUTE_BEFORE_DUE, tick=False):
        schedule_questionnaire_reminders()
    assert reminders() == []


def test_each_instrument_is_reminded_on_its_own_due_date(patient):
    intake_for(patient.patient)
    pid = patient.patient.public_id
    with time_machine.travel(INTAKE_AT + timedelta(days=10), tick=False):
        questionnaire_submit(patient=patient.patient, instrument="phq9", answers=[0] * 9)
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        schedule_questionnaire_reminders()
    assert [r["dedupe_key"] for r in reminders()] == [f"questionnaire:{pid}:gad7:2027-03-30"]
    with time_machine.travel(datetime(2027, 4, 9, 5, 0, tzinfo=UTC), tick=False):
        schedule_questionnaire_reminders()
    assert [r["dedupe_key"] for r in reminders()] == [
        f"questionnaire:{pid}:gad7:2027-03-30",
        f"questionnaire:{pid}:phq9:2027-04-09",
    ]


def test_answering_cancels_a_reminder_still_waiting(patient):
    intake_for(patient.patient)
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        schedule_questionnaire_reminders()
        questionnaire_submit(patient=patient.patient, instrument="phq9", answers=[0] * 9)
        questionnaire_submit(patient=patient.patient, instrument="gad7", answers=[0] * 7)
        schedule_questionnaire_reminders()
    (reminder,) = reminders()
    assert reminder["status"] == MessageStatus.CANCELED


@pytest.mark.parametrize(
    "status", [IntakeStatus.SUBMITTED, IntakeStatus.INFO_REQUESTED, IntakeStatus.DECLINED]
)
def test_no_reminders_without_an_approved_intake(patient, status):
    intake_for(patient.patient, status=status)
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        schedule_questionnaire_reminders()
    assert reminders() == []


def test_reminders_for_many_patients_in_one_run(django_assert_max_num_queries):
    due = [PatientFactory() for _ in range(5)]
    recent = [PatientFactory() for _ in range(2)]
    for record in due:
        intake_for(record)
    for record in recent:
        intake_for(record, submitted_at=FIRST_MINUTE_DUE - timedelta(days=3))
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        with django_assert_max_num_queries(3):  # pages of 2: 2 + 2 + 1, nothing more
            found = list(patients_with_due_questionnaires(chunk_size=2))
        schedule_questionnaire_reminders()
    assert [patient for patient, _ in found] == due
    assert {r["recipient"] for r in reminders()} == {p.user_id for p in due}


@pytest.mark.django_db(transaction=True)
def test_reminder_runs_at_the_same_time_schedule_once(patient):

    intake_for(patient.patient)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            schedule_questionnaire_reminders()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert Message.objects.filter(template_key="questionnaire_due").count() == 1

"""The day-after follow-up of a completed check-in: when it is sent, and what becomes of
the patient's answer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from audit.models import AuditEvent
from notifications import services as notification_services
from notifications.models import InboundSms, Message
from notifications.templates import clinical_words_in, render_sms
from patients.models import MoodEntry
from scheduling import tasks
from scheduling.models import AppointmentKind, AppointmentStatus, VisitFollowUp
from scheduling.services.follow_up import (
    FOLLOW_UP_PATH,
    follow_up_dedupe_key,
    follow_ups_schedule,
)
from tests.patients.support import intake_for
from tests.scheduling.support import appointment_for
from tests.scheduling.support_followup import (
    OTHER_PATIENT_PHONE,
    PATIENT_PHONE,
    completed_check_in,
    text_from,
    with_phone,
)

pytestmark = pytest.mark.django_db

CHICAGO, NEW_YORK = "America/Chicago", "America/New_York"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- when the text goes out -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "completed_at", "expected"),
    [
        # Central, an ordinary week: 10:00 CST is 16:00 UTC.
        pytest.param(CHICAGO, utc(2026, 3, 5, 16, 0), utc(2026, 3, 6, 16, 0), id="central"),
        # Central, the day after is the spring-forward Sunday: 10:00 CDT is 15:00 UTC.
        pytest.param(CHICAGO, utc(2026, 3, 7, 21, 0), utc(2026, 3, 8, 15, 0), id="central-dst"),
        # 23:30 CST on the 7th is already the 8th in UTC: the day after is the 8th.
        pytest.param(
            CHICAGO, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 15, 0), id="central-late-evening"
        ),
        # Eastern, an ordinary week: 10:00 EDT is 14:00 UTC.
        pytest.param(NEW_YORK, utc(2026, 10, 20, 18, 0), utc(2026, 10, 21, 14, 0), id="eastern"),
        # Eastern, the day after is the fall-back Sunday: 10:00 EST is 15:00 UTC.
        pytest.param(NEW_YORK, utc(2026, 10, 31, 20, 0), utc(2026, 11, 1, 15, 0), id="eastern-dst"),
    ],
)
def test_the_follow_up_goes_out_at_ten_the_next_day_in_the_patients_zone(
    patient, physician, zone, completed_at, expected
):
    patient.patient.time_zone = zone
    patient.patient.save()
    appointment = completed_check_in(patient, physician, completed_at)

    assert follow_ups_schedule(now=completed_at + timedelta(minutes=5)) == 1

    follow_up = VisitFollowUp.objects.get()
    assert follow_up.appointment == appointment
    assert follow_up.asked_at == expected
    message = Message.objects.get()
    assert message.dedupe_key == follow_up_dedupe_key(appointment)
    assert (message.template_key, message.category, message.channel) == (
        "checkin_followup",
        "care",
        "sms",
    )
    assert message.recipient == patient
    assert message.send_at == expected
    assert message.context == {"path": FOLLOW_UP_PATH}


def test_a_follow_up_found_late_goes_out_now(patient, physician):
    completed_at = utc(2026, 5, 4, 15, 0)
    completed_check_in(patient, physician, completed_at)
    now = utc(2026, 5, 5, 18, 0)  # past 10:00 CDT (15:00 UTC) on the day after

    follow_ups_schedule(now=now)

    assert VisitFollowUp.objects.get().asked_at == now
    assert Message.objects.get().send_at == now


@pytest.mark.parametrize(
    ("kind", "status", "age"),
    [
        (AppointmentKind.CONSULTATION, AppointmentStatus.COMPLETED, timedelta(hours=1)),
        (AppointmentKind.CHECK_IN, AppointmentStatus.NO_SHOW, timedelta(hours=1)),
        (AppointmentKind.CHECK_IN, AppointmentStatus.CANCELED, timedelta(hours=1)),
        (AppointmentKind.CHECK_IN, AppointmentStatus.COMPLETED, timedelta(days=3)),
    ],
)
def test_only_recently_completed_check_ins_are_followed_up(patient, physician, kind, status, age):
    now = utc(2026, 5, 10, 15, 0)
    appointment = appointment_for(patient, physician, now - age, kind=kind, status=status)
    appointment.completed_at = appointment.ends_at
    appointment.save(update_fields=["completed_at"])

    assert follow_ups_schedule(now=now) == 0
    assert not VisitFollowUp.objects.exists()
    assert not Message.objects.exists()


def test_the_task_run_twice_schedules_one_follow_up(patient, physician):
    completed_check_in(patient, physician, utc(2026, 5, 4, 15, 0))

    with time_machine.travel(utc(2026, 5, 4, 16, 0), tick=False):
        tasks.follow_ups_schedule.apply()
        tasks.follow_ups_schedule.apply()

    assert VisitFollowUp.objects.count() == 1
    assert Message.objects.filter(template_key="checkin_followup").count() == 1
    assert (
        AuditEvent.objects.filter(object_type="scheduling.visitfollowup", action="create").count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_schedule_one_follow_up(patient, physician):
    completed_at = utc(2026, 5, 4, 15, 0)
    completed_check_in(patient, physician, completed_at)
    start = threading.Barrier(2)
    created: list[int] = []

    def run() -> None:
        try:
            start.wait()
            created.append(follow_ups_schedule(now=completed_at + timedelta(minutes=5)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(created) == [0, 1]
    assert VisitFollowUp.objects.count() == 1
    assert Message.objects.filter(template_key="checkin_followup").count() == 1


# --- the answer ------------------------------------------------------------------------------

ASKED_AT = utc(2026, 5, 5, 15, 0)  # 10:00 CDT, the day after the visit
REPLY_AT = ASKED_AT + timedelta(hours=2)


@pytest.fixture
def asked(patient, physician):
    """The `patient` actor (in care, phone on file) asked about yesterday's check-in."""
    with_phone(patient, PATIENT_PHONE)
    intake_for(patient.patient)
    completed_check_in(patient, physician, utc(2026, 5, 4, 15, 0))
    follow_ups_schedule(now=utc(2026, 5, 4, 16, 0))
    follow_up = VisitFollowUp.objects.get()
    assert follow_up.asked_at == ASKED_AT
    return follow_up


def reply(body: str, *, phone: str = PATIENT_PHONE, at: datetime = REPLY_AT) -> str | None:
    with time_machine.travel(at, tick=False):
        return text_from(phone, body)


def test_the_follow_up_handler_is_asked_before_the_general_mood_handler():
    names = [name for name, _ in notification_services.reply_handlers]
    assert names.index("scheduling.follow_up") < names.index("patients.mood")


def test_a_number_is_stored_as_a_mood_linked_to_the_visit(patient, asked):
    assert reply(" 7 ") is None

    entry = MoodEntry.objects.get()
    assert (entry.patient, entry.score, entry.source) == (patient.patient, "7", "sms")
    asked.refresh_from_db()
    assert asked.mood_entry == entry
    assert asked.answered_at == REPLY_AT
    assert asked.help_sent_at is None
    assert InboundSms.objects.get().handled_by == "scheduling.follow_up"
    assert AuditEvent.objects.filter(
        object_type="patients.moodentry", action="create", patient_id=patient.patient.public_id
    ).exists()


def test_a_second_answer_replaces_the_first(patient, asked):
    reply("4")
    reply("9", at=REPLY_AT + timedelta(hours=5))

    entry = MoodEntry.objects.get()
    assert entry.score == "9"
    asked.refresh_from_db()
    assert asked.mood_entry == entry
    assert asked.answered_at == REPLY_AT + timedelta(hours=5)
    update = AuditEvent.objects.get(object_type="patients.moodentry", action="update")
    assert update.object_id == str(entry.pk)
    assert update.patient_id == patient.patient.public_id


@pytest.mark.parametrize("body", ["feeling good", "11", "0", "7/10"])
def test_a_bad_reply_gets_one_help_text_then_nothing(asked, settings, body):
    help_text = render_sms("followup_help", {})
    assert settings.PRACTICE_NAME in help_text
    assert "1 to 10" in help_text
    assert clinical_words_in(help_text) == []

    assert reply(body) == help_text
    assert reply(body, at=REPLY_AT + timedelta(minutes=1)) is None
    assert reply("what?", at=REPLY_AT + timedelta(minutes=2)) is None

    asked.refresh_from_db()
    assert asked.help_sent_at == REPLY_AT
    assert asked.mood_entry is None
    assert not MoodEntry.objects.exists()
    handled = list(InboundSms.objects.order_by("pk").values_list("handled_by", flat=True))
    assert handled == ["scheduling.follow_up", "", ""]


def test_a_number_that_opted_out_gets_no_help_text(asked):
    reply("STOP")

    assert reply("hmm", at=REPLY_AT + timedelta(minutes=1)) is None

    asked.refresh_from_db()
    assert asked.help_sent_at is None


def test_handlers_are_asked_by_priority_then_registration(monkeypatch):
    monkeypatch.setattr(notification_services, "reply_handlers", [])
    register = notification_services.register_reply_handler

    def never(*args: object) -> bool:
        return False

    register("first", never)
    register("urgent", never, priority=5)
    register("second", never)
    register("late", never, priority=-1)
    register("also-urgent", never, priority=5)
    register("first", never, priority=99)  # a name registers once

    names = [name for name, _ in notification_services.reply_handlers]
    assert names == ["urgent", "also-urgent", "first", "second", "late"]


def test_a_number_after_the_help_text_is_still_the_answer(asked):
    reply("not sure")

    assert reply("6", at=REPLY_AT + timedelta(minutes=3)) is None

    asked.refresh_from_db()
    assert asked.mood_entry is not None
    assert asked.mood_entry.score == "6"


def test_chatter_after_an_answer_gets_no_help_text(asked):
    reply("8")

    assert reply("thanks!", at=REPLY_AT + timedelta(minutes=1)) is None

    asked.refresh_from_db()
    assert asked.help_sent_at is None
    assert asked.mood_entry.score == "8"


def test_another_patients_reply_is_not_linked(asked, other_patient):
    with_phone(other_patient, OTHER_PATIENT_PHONE)
    intake_for(other_patient.patient)

    assert reply("3", phone=OTHER_PATIENT_PHONE) is None

    asked.refresh_from_db()
    assert asked.mood_entry is None
    entry = MoodEntry.objects.get()
    assert entry.patient == other_patient.patient  # their own, unlinked mood
    assert InboundSms.objects.get().handled_by == "patients.mood"


@pytest.mark.parametrize(
    "at",
    [
        pytest.param(ASKED_AT - timedelta(minutes=1), id="before-the-text-went-out"),
        pytest.param(ASKED_AT + timedelta(days=3, minutes=1), id="after-three-days"),
    ],
)
def test_outside_the_follow_up_a_number_is_an_unlinked_mood(asked, at):
    assert reply("5", at=at) is None
    assert reply("no idea", at=at) is None  # and no help text

    asked.refresh_from_db()
    assert asked.mood_entry is None
    assert asked.help_sent_at is None
    assert MoodEntry.objects.get().score == "5"
    handled = list(InboundSms.objects.order_by("pk").values_list("handled_by", flat=True))
    assert handled == ["patients.mood", ""]


def test_the_answer_goes_to_the_latest_open_follow_up(patient, physician, asked):
    completed_check_in(patient, physician, utc(2026, 5, 5, 14, 0))
    follow_ups_schedule(now=utc(2026, 5, 5, 14, 30))
    latest = VisitFollowUp.objects.exclude(pk=asked.pk).get()

    reply("6", at=latest.asked_at + timedelta(hours=1))

    latest.refresh_from_db()
    asked.refresh_from_db()
    assert latest.mood_entry is not None
    assert asked.mood_entry is None

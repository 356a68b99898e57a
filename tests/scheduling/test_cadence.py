"""The check-in cadence: when a check-in is due and overdue, who sets the interval, the
one nudge per due date, and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from core.errors import NotFound, PermissionDenied, ValidationFailed
from notifications.models import Message
from patients.models import Patient
from scheduling import tasks
from scheduling.models import AppointmentKind, AppointmentStatus, CheckInCadence
from scheduling.selectors.cadence import check_in_status, check_in_statuses
from scheduling.services.cadence import (
    CHECK_IN_BOOKING_PATH,
    check_in_cadence_set,
    check_in_nudge_dedupe_key,
    check_in_nudges_schedule,
)
from tests.actors import client_for
from tests.factories import PatientFactory
from tests.patients.support import intake_for
from tests.scheduling.support import appointment_for
from tests.scheduling.support_followup import completed_check_in

pytestmark = pytest.mark.django_db


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# The `patient` actor is on Central time: midnight CDT is 05:00 UTC.
# A check-in completed at 23:30 CDT on May 1st (04:30 UTC on the 2nd) counts as May 1st.
LAST_CHECK_IN_AT = utc(2026, 5, 2, 4, 30)
DUE_ON = date(2026, 5, 29)  # May 1st + 28 days


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC)


LAST_MINUTE_OF_DUE_DAY = local_midnight(DUE_ON) + timedelta(hours=23, minutes=59)


@pytest.fixture
def in_care(patient, physician):
    intake_for(patient.patient)
    completed_check_in(patient, physician, LAST_CHECK_IN_AT)
    return patient.patient


@pytest.mark.parametrize(
    ("now", "due", "overdue"),
    [
        pytest.param(local_midnight(DUE_ON) - timedelta(seconds=1), False, False, id="eve"),
        pytest.param(local_midnight(DUE_ON), True, False, id="due-day-start"),
        pytest.param(LAST_MINUTE_OF_DUE_DAY, True, False, id="due-day-end"),
        pytest.param(local_midnight(DUE_ON + timedelta(days=1)), True, True, id="day-after"),
    ],
)
def test_due_and_overdue_edges_default_28_days(in_care, now, due, overdue):
    status = check_in_status(in_care, now=now)

    assert status.interval_days == 28
    assert status.last_check_in_at == LAST_CHECK_IN_AT
    assert status.due_on == DUE_ON
    assert (status.due, status.overdue) == (due, overdue)
    assert status.booked_for is None


def test_before_the_first_check_in_it_counts_from_the_intake_approval(patient):
    intake = intake_for(patient.patient)
    intake.decided_at = utc(2026, 6, 10, 15, 0)
    intake.save(update_fields=["decided_at"])

    status = check_in_status(patient.patient, now=utc(2026, 6, 11, 15, 0))

    assert status.due_on == date(2026, 7, 8)
    assert status.last_check_in_at is None
    assert (status.due, status.overdue) == (False, False)


def test_a_patient_not_in_care_is_never_due(patient):
    status = check_in_status(patient.patient, now=utc(2030, 1, 1))

    assert (status.due_on, status.due, status.overdue) == (None, False, False)


def test_the_physicians_interval_moves_the_due_date(in_care, physician):
    check_in_cadence_set(patient=in_care, interval_days=14, actor=physician.user)

    status = check_in_status(in_care, now=local_midnight(date(2026, 5, 16)))

    assert status.interval_days == 14
    assert status.due_on == date(2026, 5, 15)
    assert (status.due, status.overdue) == (True, True)


def test_a_booked_check_in_is_reported_and_does_not_clear_overdue(in_care, patient, physician):
    booked_for = utc(2026, 6, 10, 15, 0)
    appointment_for(patient, physician, booked_for)

    status = check_in_status(in_care, now=local_midnight(date(2026, 6, 1)))

    assert status.booked_for == booked_for
    assert status.overdue is True


def test_a_canceled_check_in_is_not_a_booking(in_care, patient, physician):
    appointment_for(patient, physician, utc(2026, 6, 10, 15), status=AppointmentStatus.CANCELED)

    assert check_in_status(in_care, now=local_midnight(date(2026, 6, 1))).booked_for is None


def test_the_bulk_selector_runs_one_query_whatever_the_number_of_patients(in_care, physician):
    now = local_midnight(date(2026, 6, 1))
    with CaptureQueriesContext(connection) as one:
        assert len(list(check_in_statuses(Patient.objects.all(), now=now))) == 1
    for day in range(5):
        other = PatientFactory()
        intake_for(other)
        completed_check_in(other.user, physician, LAST_CHECK_IN_AT)
        appointment_for(other.user, physician, utc(2026, 6, 20 + day, 15))
        check_in_cadence_set(patient=other, interval_days=20, actor=physician.user)

    with CaptureQueriesContext(connection) as six:
        statuses = list(check_in_statuses(Patient.objects.all(), now=now))

    assert len(statuses) == 6
    assert len(six) == len(one) == 1
    assert sorted(s.interval_days for _, s in statuses) == [20] * 5 + [28]


# --- setting the interval ---------------------------------------------------------------------


def test_the_physician_sets_the_interval_and_it_is_audited(patient, physician):
    cadence = check_in_cadence_set(patient=patient.patient, interval_days=42, actor=physician.user)
    check_in_cadence_set(patient=patient.patient, interval_days=21, actor=physician.user)

    cadence.refresh_from_db()
    assert (cadence.interval_days, cadence.set_by) == (21, physician.user)
    events = AuditEvent.objects.filter(object_type="scheduling.checkincadence").order_by("pk")
    assert [(e.action, e.detail["interval_days"]) for e in events] == [
        ("create", 42),
        ("update", 21),
    ]
    assert {e.patient_id for e in events} == {patient.patient.public_id}


def test_an_ops_admin_may_set_it(patient, ops_admin):
    check_in_cadence_set(patient=patient.patient, interval_days=30, actor=ops_admin)
    assert CheckInCadence.objects.get().interval_days == 30


def test_a_physician_not_licensed_in_the_patients_state_may_not(
    patient, physician_licensed_elsewhere
):
    with pytest.raises(NotFound):
        check_in_cadence_set(
            patient=patient.patient, interval_days=30, actor=physician_licensed_elsewhere.user
        )
    assert not CheckInCadence.objects.exists()


def test_a_patient_may_not_set_their_own(patient):
    with pytest.raises(PermissionDenied):
        check_in_cadence_set(patient=patient.patient, interval_days=30, actor=patient)


@pytest.mark.parametrize("days", [0, 366, -1, True])
def test_the_interval_is_1_to_365_days(patient, physician, days):
    with pytest.raises(ValidationFailed) as refused:
        check_in_cadence_set(patient=patient.patient, interval_days=days, actor=physician.user)
    assert list(refused.value.fields) == ["interval_days"]


# --- the nudge --------------------------------------------------------------------------------


def nudges() -> list[Message]:
    return list(Message.objects.filter(template_key="checkin_due").order_by("pk"))


def test_a_due_patient_gets_one_nudge_per_due_date(in_care, patient, physician):
    with time_machine.travel(local_midnight(DUE_ON) + timedelta(hours=9), tick=False):
        tasks.check_in_nudges_schedule.apply()
        tasks.check_in_nudges_schedule.apply()

    (nudge,) = nudges()
    assert nudge.dedupe_key == check_in_nudge_dedupe_key(in_care, DUE_ON)
    assert DUE_ON.isoformat() in nudge.dedupe_key
    assert (nudge.recipient, nudge.category, nudge.channel) == (patient, "care", "sms")
    assert nudge.context == {"path": CHECK_IN_BOOKING_PATH}

    # The next check-in, then the next due date: one more nudge.
    completed_check_in(patient, physician, local_midnight(DUE_ON) + timedelta(days=2, hours=15))
    next_due = DUE_ON + timedelta(days=2 + 28)
    for _ in range(2):
        check_in_nudges_schedule(now=local_midnight(next_due) + timedelta(hours=1))
    assert [m.dedupe_key for m in nudges()] == [
        check_in_nudge_dedupe_key(in_care, DUE_ON),
        check_in_nudge_dedupe_key(in_care, next_due),
    ]


def test_the_nudge_follows_the_patients_own_interval(in_care, physician):
    check_in_cadence_set(patient=in_care, interval_days=14, actor=physician.user)
    due_on = date(2026, 5, 15)

    check_in_nudges_schedule(now=local_midnight(due_on) + timedelta(hours=9))

    assert [m.dedupe_key for m in nudges()] == [check_in_nudge_dedupe_key(in_care, due_on)]


def test_no_nudge_before_the_due_date(in_care):
    assert check_in_nudges_schedule(now=local_midnight(DUE_ON) - timedelta(seconds=1)) == 0
    assert nudges() == []


def test_no_nudge_with_a_check_in_booked(in_care, patient, physician):
    appointment_for(patient, physician, utc(2026, 6, 10, 15), kind=AppointmentKind.CHECK_IN)

    check_in_nudges_schedule(now=local_midnight(DUE_ON) + timedelta(days=3))

    assert nudges() == []


def test_no_nudge_for_a_patient_not_in_care(patient, physician):
    completed_check_in(patient, physician, LAST_CHECK_IN_AT)  # no approved intake

    check_in_nudges_schedule(now=local_midnight(DUE_ON) + timedelta(days=3))

    assert nudges() == []


# --- the API ----------------------------------------------------------------------------------


def cadence_url(patient) -> str:
    return f"/api/scheduling/patients/{patient.patient.public_id}/cadence"


def test_the_physician_sets_and_reads_the_cadence(in_care, patient, physician):
    client = client_for(physician.user)
    with time_machine.travel(local_midnight(date(2026, 5, 20)), tick=False):
        put = client.put(cadence_url(patient), {"interval_days": 14}, format="json")
        got = client.get(cadence_url(patient))

    assert put.status_code == 200, put.json()
    assert put.json() == got.json()
    assert got.json() == {
        "interval_days": 14,
        "last_check_in_at": "2026-05-02T04:30:00Z",
        "due_on": "2026-05-15",
        "due": True,
        "overdue": True,
        "booked_for": None,
    }
    reads = AuditEvent.objects.filter(object_type="scheduling.checkincadence", action="read")
    assert reads.count() == 2


def test_the_patient_reads_their_own(in_care, patient):
    with time_machine.travel(local_midnight(DUE_ON), tick=False):
        response = client_for(patient).get("/api/scheduling/me/cadence")

    assert response.status_code == 200
    assert response.json()["due_on"] == DUE_ON.isoformat()
    assert (response.json()["due"], response.json()["overdue"]) == (True, False)


@pytest.mark.parametrize("body", [{"interval_days": 0}, {"interval_days": "14"}, {}, {"x": 1}])
def test_a_bad_interval_is_a_400(patient, physician, body):
    response = client_for(physician.user).put(cadence_url(patient), body, format="json")

    assert response.status_code == 400
    assert not CheckInCadence.objects.exists()

"""Calendars: a patient's upcoming and past appointments, a physician's day and week in
their own zone (across the 2026 DST changes), any physician's agenda for operations
staff, never a visit note, audited reads and fixed query counts."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from scheduling.models import AppointmentKind, AppointmentStatus, PhysicianSchedule
from tests.actors import client_for
from tests.factories import PatientFactory
from tests.scheduling.support import appointment_for, schedule_for
from tests.scheduling.support_calendar import counted, wall

pytestmark = pytest.mark.django_db

MINE = "/api/scheduling/me/appointments"
AGENDA = "/api/scheduling/agenda"
NOTE = "Discussed titration and the sitter plan"
NY, CHICAGO = "America/New_York", "America/Chicago"


def ops_agenda(physician) -> str:
    return f"/api/scheduling/physicians/{physician.user.public_id}/agenda"


# --- patients ----------------------------------------------------------------------------


@pytest.fixture
def history(patient, other_patient, physician, physician_licensed_elsewhere):
    """The patient's appointments around now (one booked per kind at most), and one of
    another patient's."""
    now = timezone.now().replace(second=0, microsecond=0)
    day = timedelta(days=1)
    schedule = schedule_for(physician, time_zone=NY)
    schedule.title = "MD, Psychiatrist"
    schedule.save(update_fields=["title"])
    rows = {
        "consultation": appointment_for(
            patient, physician, now + day, kind=AppointmentKind.CONSULTATION
        ),
        "check_in": appointment_for(
            patient, physician_licensed_elsewhere, now + 2 * day, kind=AppointmentKind.CHECK_IN
        ),
        "canceled": appointment_for(
            patient, physician, now + 5 * day, status=AppointmentStatus.CANCELED
        ),
        "completed": appointment_for(
            patient, physician, now - 3 * day, status=AppointmentStatus.COMPLETED
        ),
        "no_show": appointment_for(
            patient,
            physician,
            now - 10 * day,
            kind=AppointmentKind.FOLLOW_UP,
            status=AppointmentStatus.NO_SHOW,
        ),
        "others": appointment_for(other_patient, physician, now + 3 * day),
    }
    rows["canceled"].late_cancellation = True
    rows["canceled"].save(update_fields=["late_cancellation"])
    rows["completed"].visit_note = NOTE
    rows["completed"].save(update_fields=["visit_note"])
    return rows


def ids(response) -> list[str]:
    return [row["id"] for row in response.json()["results"]]


def test_upcoming_is_soonest_first_and_past_is_newest_first(patient, history):
    client = client_for(patient)

    upcoming = client.get(MINE, {"when": "upcoming"})
    past = client.get(MINE, {"when": "past"})

    assert upcoming.status_code == 200, upcoming.json()
    assert ids(upcoming) == [str(history[k].public_id) for k in ("consultation", "check_in")]
    # Past is everything the patient no longer has to attend, newest first: a canceled
    # visit's slot may still lie ahead.
    assert ids(past) == [str(history[k].public_id) for k in ("canceled", "completed", "no_show")]
    assert client.get(MINE).json() == upcoming.json()  # upcoming is the default


def test_a_visit_in_progress_stays_upcoming_until_it_ends(patient, physician):
    started = timezone.now() - timedelta(minutes=5)
    visit = appointment_for(patient, physician, started, status=AppointmentStatus.IN_PROGRESS)
    client = client_for(patient)
    assert ids(client.get(MINE)) == [str(visit.public_id)]
    assert ids(client.get(MINE, {"when": "past"})) == []


def test_rows_carry_times_in_utc_and_in_the_patients_zone_and_the_physician(patient, history):
    rows = client_for(patient).get(MINE, {"when": "past"}).json()["results"]
    by_id = {row["id"]: row for row in rows}

    canceled = by_id[str(history["canceled"].public_id)]
    starts = history["canceled"].starts_at
    assert canceled["starts_at"] == starts.astimezone(UTC).isoformat().replace("+00:00", "Z")
    local = starts.astimezone(ZoneInfo(CHICAGO))
    assert canceled["time_zone"] == CHICAGO
    assert canceled["starts_at_local"] == local.isoformat()
    assert canceled["late_cancellation"] is True
    assert canceled["status"] == "canceled"
    assert canceled["physician_name"] == "Dr. {} Byrd".format(
        history["canceled"].physician.first_name
    )
    assert canceled["physician_title"] == "MD, Psychiatrist"
    # A physician without a public profile yet: a blank title, not an error.
    upcoming = client_for(patient).get(MINE).json()["results"]
    assert upcoming[1]["physician_title"] == ""
    assert upcoming[1]["physician_name"].endswith("Elsewhere")


def test_no_visit_note_and_no_other_patients_appointment(patient, history):
    client = client_for(patient)
    for when in ("upcoming", "past"):
        response = client.get(MINE, {"when": when})
        assert NOTE not in response.content.decode()
        assert str(history["others"].public_id) not in response.content.decode()
        assert all("visit_note" not in row for row in response.json()["results"])
        assert set(response.json()["results"][0]) == {
            "id",
            "kind",
            "status",
            "starts_at",
            "ends_at",
            "time_zone",
            "starts_at_local",
            "ends_at_local",
            "physician_name",
            "physician_title",
            "late_cancellation",
        }


def test_the_other_patient_sees_only_their_own(other_patient, history):
    response = client_for(other_patient).get(MINE)
    assert ids(response) == [str(history["others"].public_id)]


def test_an_unknown_when_is_400(patient):
    response = client_for(patient).get(MINE, {"when": "tomorrow"})
    assert response.status_code == 400
    assert "when" in response.json()["error"]["fields"]


def test_a_patient_without_a_record_is_409(db):
    from tests.factories import UserFactory

    response = client_for(UserFactory(role="patient")).get(MINE)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_record"


def test_each_listed_appointment_is_an_audited_read_in_one_insert(patient, history):
    response, _, inserts = counted(lambda: client_for(patient).get(MINE, {"when": "past"}))
    assert response.status_code == 200
    assert inserts == 1
    reads = AuditEvent.objects.filter(
        action="read", actor=patient, object_type="scheduling.appointment"
    )
    assert set(reads.values_list("object_id", flat=True)) == set(ids(response))
    assert set(reads.values_list("patient_id", flat=True)) == {patient.patient.public_id}


def test_the_patient_list_runs_a_fixed_number_of_queries(patient, physician):
    start = timezone.now() - timedelta(days=400)
    client = client_for(patient)
    appointment_for(patient, physician, start, status=AppointmentStatus.COMPLETED)
    _, one, _ = counted(lambda: client.get(MINE, {"when": "past"}))
    for n in range(1, 30):
        appointment_for(
            patient, physician, start + timedelta(days=n), status=AppointmentStatus.COMPLETED
        )
    response, many, _ = counted(lambda: client.get(MINE, {"when": "past", "page_size": 25}))
    assert len(response.json()["results"]) == 25
    assert response.json()["count"] == 30
    assert many == one


# --- physicians: day and week in their zone ----------------------------------------------


@pytest.fixture
def fall_back_week(patient, other_patient, physician):
    """A New York physician's appointments around the end of DST (2026-11-01, 02:00 EDT
    -> 01:00 EST), stored as UTC instants."""
    schedule_for(physician, time_zone=NY)

    def visit(owner, when: str, status=AppointmentStatus.COMPLETED):
        return appointment_for(owner, physician, wall(when, NY), status=status)

    return {
        "before_week": visit(patient, "2026-10-30 23:30"),
        "saturday_late": visit(patient, "2026-10-31 23:30"),  # EDT: 03:30Z on Nov 1
        "sunday_morning": visit(other_patient, "2026-11-01 09:00"),  # EST: 14:00Z
        "sunday_late": visit(patient, "2026-11-01 23:30"),  # EST: 04:30Z on Nov 2
        "canceled": visit(patient, "2026-11-03 10:00", AppointmentStatus.CANCELED),
        "friday_late": visit(patient, "2026-11-06 23:30"),
        "after_week": visit(patient, "2026-11-07 00:10"),
    }


def agenda_ids(response) -> list[str]:
    return [row["id"] for row in response.json()["appointments"]]


def test_the_day_dst_ends_is_25_hours_in_the_physicians_zone(physician, fall_back_week):
    response = client_for(physician.user).get(AGENDA, {"date": "2026-11-01"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["time_zone"], body["date"], body["days"]) == (NY, "2026-11-01", 1)
    assert (body["starts_at"], body["ends_at"]) == ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")
    # 23:30 EST is 04:30Z the next day: inside the 25-hour local day.
    assert agenda_ids(response) == [
        str(fall_back_week[k].public_id) for k in ("sunday_morning", "sunday_late")
    ]
    morning = body["appointments"][0]
    assert morning["starts_at"] == "2026-11-01T14:00:00Z"
    assert morning["starts_at_local"] == "2026-11-01T09:00:00-05:00"


def test_the_saturday_before_is_still_daylight_time(physician, fall_back_week):
    body = client_for(physician.user).get(AGENDA, {"date": "2026-10-31", "days": 1}).json()
    assert [row["starts_at_local"] for row in body["appointments"]] == ["2026-10-31T23:30:00-04:00"]
    assert body["starts_at"] == "2026-10-31T04:00:00Z"


def test_a_week_across_the_change_without_canceled_visits(physician, fall_back_week):
    response = client_for(physician.user).get(AGENDA, {"date": "2026-10-31", "days": 7})
    body = response.json()
    assert (body["starts_at"], body["ends_at"]) == ("2026-10-31T04:00:00Z", "2026-11-07T05:00:00Z")
    assert agenda_ids(response) == [
        str(fall_back_week[k].public_id)
        for k in ("saturday_late", "sunday_morning", "sunday_late", "friday_late")
    ]


def test_a_central_physician_sees_the_spring_change_in_central_time(patient, physician):
    schedule_for(physician, time_zone=CHICAGO)
    before = appointment_for(
        patient, physician, wall("2026-03-07 16:00", CHICAGO), status="completed"
    )
    after = appointment_for(
        patient, physician, wall("2026-03-09 09:00", CHICAGO), status="completed"
    )
    body = client_for(physician.user).get(AGENDA, {"date": "2026-03-07", "days": 7}).json()

    assert body["time_zone"] == CHICAGO
    assert body["starts_at"] == "2026-03-07T06:00:00Z"  # CST
    assert body["ends_at"] == "2026-03-14T05:00:00Z"  # CDT
    assert [(r["id"], r["starts_at_local"]) for r in body["appointments"]] == [
        (str(before.public_id), "2026-03-07T16:00:00-06:00"),
        (str(after.public_id), "2026-03-09T09:00:00-05:00"),
    ]


def test_without_a_schedule_the_agenda_is_in_new_york_time(patient, physician):
    assert not PhysicianSchedule.objects.filter(physician=physician).exists()
    appointment_for(patient, physician, wall("2026-07-01 09:00", NY), status="completed")
    body = client_for(physician.user).get(AGENDA, {"date": "2026-07-01"}).json()
    assert body["time_zone"] == NY
    assert body["appointments"][0]["starts_at_local"] == "2026-07-01T09:00:00-04:00"


def test_agenda_rows_name_the_patient_by_initials_only_and_carry_no_note(
    patient, physician, fall_back_week
):
    visit = fall_back_week["sunday_late"]
    visit.visit_note, visit.cancel_reason = NOTE, "private reason"
    visit.save(update_fields=["visit_note", "cancel_reason"])
    response = client_for(physician.user).get(AGENDA, {"date": "2026-11-01"})

    row = response.json()["appointments"][1]
    assert row["patient_id"] == str(patient.patient.public_id)
    assert row["patient_initials"] == "JR"  # Jordan Rivers<n>
    assert set(row) == {
        "id",
        "patient_id",
        "patient_initials",
        "kind",
        "status",
        "starts_at",
        "ends_at",
        "starts_at_local",
        "ends_at_local",
    }
    text = response.content.decode()
    assert NOTE not in text and "private reason" not in text
    assert patient.patient.legal_last_name not in text


def test_a_physician_sees_only_their_own_agenda(
    patient, physician, physician_licensed_elsewhere, fall_back_week
):
    body = client_for(physician_licensed_elsewhere.user).get(AGENDA, {"date": "2026-11-01"})
    assert body.json()["appointments"] == []
    # No query parameter names another physician: the agenda is always the caller's own.
    other = client_for(physician_licensed_elsewhere.user).get(
        AGENDA, {"date": "2026-11-01", "physician": str(physician.user.public_id)}
    )
    assert other.status_code == 400


@pytest.mark.parametrize(
    "query",
    [{}, {"date": "tomorrow"}, {"date": "2026-11-01", "days": 3}, {"date": "9999-12-31"}],
)
def test_bad_agenda_queries_are_400(physician, query):
    assert client_for(physician.user).get(AGENDA, query).status_code == 400


def test_agenda_reads_are_audited_per_appointment_in_one_insert(physician, fall_back_week):
    _, _, inserts = counted(lambda: client_for(physician.user).get(AGENDA, {"date": "2026-11-01"}))
    assert inserts == 1
    reads = AuditEvent.objects.filter(action="read", actor=physician.user)
    assert set(reads.values_list("object_id", flat=True)) == {
        str(fall_back_week[k].public_id) for k in ("sunday_morning", "sunday_late")
    }


def test_the_agenda_runs_a_fixed_number_of_queries(physician):
    schedule_for(physician, time_zone=NY)
    client = client_for(physician.user)
    patients = [PatientFactory().user for _ in range(8)]
    appointment_for(patients[0], physician, wall("2026-06-01 08:00", NY), status="completed")
    _, one, _ = counted(lambda: client.get(AGENDA, {"date": "2026-06-01", "days": 7}))
    for n, owner in enumerate(patients[1:], start=1):
        starts = wall("2026-06-01 08:00", NY) + timedelta(days=n % 7, hours=n)
        appointment_for(owner, physician, starts, status="completed")
    response, many, _ = counted(lambda: client.get(AGENDA, {"date": "2026-06-01", "days": 7}))
    assert len(response.json()["appointments"]) == 8
    assert many == one


# --- operations staff: any physician's agenda --------------------------------------------


def test_ops_admin_sees_any_physicians_day_without_notes(ops_admin, physician, fall_back_week):
    visit = fall_back_week["sunday_morning"]
    visit.visit_note = NOTE
    visit.save(update_fields=["visit_note"])

    response = client_for(ops_admin).get(ops_agenda(physician), {"date": "2026-11-01"})
    assert response.status_code == 200, response.json()
    own = client_for(physician.user).get(AGENDA, {"date": "2026-11-01"})
    # The same rows as the physician's own view, which carries no note either.
    assert response.json() == own.json()
    assert NOTE not in response.content.decode()
    assert response.json()["physician_id"] == str(physician.user.public_id)
    reads = AuditEvent.objects.filter(action="read", actor=ops_admin)
    assert reads.count() == 2


@pytest.mark.parametrize("whose", ["nobody", "patient", "ops_admin"])
def test_ops_agenda_of_someone_who_is_not_a_physician_is_404(request, ops_admin, whose):
    public_id = uuid.uuid4() if whose == "nobody" else request.getfixturevalue(whose).public_id
    response = client_for(ops_admin).get(
        f"/api/scheduling/physicians/{public_id}/agenda", {"date": "2026-11-01"}
    )
    assert response.status_code == 404

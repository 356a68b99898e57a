"""Ongoing measurement: PHQ-9/GAD-7 due dates, submissions and the item-9 flag, double
submissions, the trend and who may see it."""

import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from notifications.models import Message
from patients.models import IntakeStatus, QuestionnaireResponse, SafetyFlag
from patients.screening import CRISIS_RESOURCES
from patients.selectors.measurement import (
    questionnaire_schedule,
)
from patients.services.measurement import questionnaire_submit
from tests.actors import actor_user, client_for
from tests.patients.support import (
    DUE_ON,
    FIRST_MINUTE_DUE,
    INTAKE_AT,
    LAST_MINUTE_BEFORE_DUE,
    PATIENT_PHONE,
    intake_for,
    questionnaire_post,
    sms_from_patient_phone,
)

pytestmark = pytest.mark.django_db


def due_by_instrument(patient):
    return {item.instrument: item for item in questionnaire_schedule(patient)}


# --- due ---------------------------------------------------------------------------------


def test_questionnaires_fall_due_28_days_after_the_intake_in_the_patients_calendar(patient):
    intake_for(patient.patient)
    with time_machine.travel(LAST_MINUTE_BEFORE_DUE, tick=False):
        due = due_by_instrument(patient.patient)
        assert {code: item.due for code, item in due.items()} == {"phq9": False, "gad7": False}
        assert due["phq9"].due_on == DUE_ON
        assert due["phq9"].last_submitted_at == INTAKE_AT
    with time_machine.travel(FIRST_MINUTE_DUE, tick=False):
        due = due_by_instrument(patient.patient)
        assert {code: item.due for code, item in due.items()} == {"phq9": True, "gad7": True}
        assert due["gad7"].days_overdue == 0


def test_due_endpoint_says_which_and_since_when(patient):
    intake_for(patient.patient)
    with time_machine.travel(FIRST_MINUTE_DUE + timedelta(days=3), tick=False):
        response = client_for(patient).get("/api/questionnaires/due")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["interval_days"] == 28
    assert body["instruments"] == [
        {
            "instrument": "phq9",
            "name": "PHQ-9",
            "due": True,
            "due_on": "2027-03-30",
            "days_overdue": 3,
            "last_submitted_at": "2027-03-02T15:00:00Z",
        },
        {
            "instrument": "gad7",
            "name": "GAD-7",
            "due": True,
            "due_on": "2027-03-30",
            "days_overdue": 3,
            "last_submitted_at": "2027-03-02T15:00:00Z",
        },
    ]
    assert AuditEvent.objects.filter(
        action="read", object_type="patients.questionnaireschedule"
    ).exists()


def test_a_submission_restarts_the_clock_for_that_instrument_only(patient):
    intake_for(patient.patient)
    answered_at = datetime(2027, 3, 31, 18, 0, tzinfo=UTC)  # 13:00 CDT on the 31st
    with time_machine.travel(answered_at, tick=False):
        assert questionnaire_post(patient, "phq9", [1] * 8 + [0]).status_code == 201
        due = due_by_instrument(patient.patient)
    assert due["phq9"].due is False
    assert due["phq9"].due_on == date(2027, 4, 28)
    assert due["gad7"].due is True
    # The boundary again, from a follow-up response this time.
    with time_machine.travel(datetime(2027, 4, 28, 4, 59, tzinfo=UTC), tick=False):
        assert due_by_instrument(patient.patient)["phq9"].due is False
    with time_machine.travel(datetime(2027, 4, 28, 5, 0, tzinfo=UTC), tick=False):
        assert due_by_instrument(patient.patient)["phq9"].due is True


def test_the_interval_is_a_setting(patient, settings):
    settings.QUESTIONNAIRE_INTERVAL_DAYS = 14
    intake_for(patient.patient)
    assert due_by_instrument(patient.patient)["phq9"].due_on == date(2027, 3, 16)


def test_a_draft_intake_is_no_baseline(patient):
    intake_for(patient.patient, status=IntakeStatus.DRAFT, submitted_at=None)
    due = due_by_instrument(patient.patient)["phq9"]
    assert (due.due, due.due_on, due.last_submitted_at) == (True, None, None)


def test_due_endpoint_is_for_patients_only(physician, ops_admin, api):
    assert client_for(physician.user).get("/api/questionnaires/due").status_code == 403
    assert client_for(ops_admin).get("/api/questionnaires/due").status_code == 403
    assert api.get("/api/questionnaires/due").status_code == 401


# --- submission ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "total", "band"),
    [
        ("phq9", [0] * 9, 0, "minimal"),
        ("phq9", [1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
        ("phq9", [2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate"),
        ("phq9", [3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately_severe"),
        ("phq9", [3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe"),
        ("gad7", [0, 0, 0, 0, 1, 1, 2], 4, "minimal"),
        ("gad7", [3, 3, 3, 0, 0, 0, 0], 9, "mild"),
        ("gad7", [3, 3, 3, 3, 2, 0, 0], 14, "moderate"),
        ("gad7", [3, 3, 3, 3, 3, 0, 0], 15, "severe"),
    ],
)
def test_submission_is_scored_and_stored_encrypted(patient, instrument, answers, total, band):
    response = questionnaire_post(patient, instrument, answers)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["instrument"], body["total"], body["band"]) == (instrument, total, band)
    assert body["self_harm_flag"] is False
    assert body["crisis_resources"] is None
    assert body["instrument_version"] == "2026-11-1"
    stored = QuestionnaireResponse.objects.get(public_id=body["id"])
    assert stored.answers == answers
    assert stored.result["total"] == total
    assert stored.source == "followup"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT answers::text, result::text FROM patients_questionnaireresponse WHERE id = %s",
            [stored.pk],
        )
        raw_answers, raw_result = cursor.fetchone()
    assert band not in raw_result
    assert str(answers[:3])[1:-1] not in raw_answers
    assert AuditEvent.objects.filter(
        action="create", object_type="patients.questionnaireresponse", object_id=body["id"]
    ).exists()
    assert not SafetyFlag.objects.exists()


def test_item_9_raises_a_flag_returns_crisis_resources_and_alerts_licensed_physicians(
    patient, physician, unlicensed_physician
):
    response = questionnaire_post(patient, "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == 1
    assert body["band"] == "minimal"  # whatever the total
    assert body["self_harm_flag"] is True
    assert body["crisis_resources"] == CRISIS_RESOURCES
    assert "988" in body["crisis_resources"]
    flag = SafetyFlag.objects.get()
    assert flag.patient == patient.patient
    assert (flag.kind, flag.source) == ("self_harm_thoughts", "questionnaire")
    assert flag.source_id == uuid.UUID(body["id"])
    assert flag.resolved_at is None
    alert = Message.objects.get(template_key="review_alert")
    assert alert.recipient == physician.user
    assert alert.dedupe_key == f"safety:{flag.public_id}:{physician.user_id}"
    assert (alert.channel, alert.category, alert.urgent) == ("email", "care", True)
    assert str(flag.public_id) in alert.context["path"]
    assert not Message.objects.filter(recipient=unlicensed_physician.user).exists()
    assert AuditEvent.objects.filter(
        action="create", object_type="patients.safetyflag", object_id=str(flag.public_id)
    ).exists()


def test_item_9_alerts_only_physicians_licensed_in_the_patients_state(other_patient, physician):
    from tests.factories import LicenseFactory, PhysicianFactory

    florida_only = PhysicianFactory(last_name="Fenn")
    LicenseFactory(physician=florida_only, state="FL")

    questionnaire_post(other_patient, "phq9", [0] * 8 + [3])  # a New Jersey patient

    recipients = set(
        Message.objects.filter(template_key="review_alert").values_list("recipient", flat=True)
    )
    assert recipients == {physician.user_id}


def test_gad7_has_no_item_9(patient):
    body = questionnaire_post(patient, "gad7", [0, 0, 0, 0, 0, 0, 3]).json()
    assert body["self_harm_flag"] is False
    assert not SafetyFlag.objects.exists()


@pytest.mark.parametrize(
    ("instrument", "answers", "field"),
    [
        ("phq9", [0, 0, 0, 4, 0, 0, 0, 0, 0], "answers.3"),
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, -1], "answers.8"),
        ("phq9", [0, 0, "often", 0, 0, 0, 0, 0, 0], "answers.2"),
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1.5], "answers.8"),
        ("phq9", [0] * 7, "answers"),
        ("gad7", [0] * 9, "answers"),
        ("gad7", "0000000", "answers"),
        ("bdi", [0] * 9, "instrument"),
    ],
)
def test_invalid_answers_name_the_item_and_store_nothing(patient, instrument, answers, field):
    response = questionnaire_post(patient, instrument, answers)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]
    assert not QuestionnaireResponse.objects.exists()


def test_unknown_fields_are_refused(patient):
    response = client_for(patient).post(
        "/api/questionnaires",
        {"instrument": "gad7", "answers": [0] * 7, "total": 0},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"total": ["Unknown field."]}


def test_only_patients_with_a_record_submit(physician, ops_admin, api):
    from tests.factories import UserFactory

    payload = {"instrument": "gad7", "answers": [0] * 7}
    assert client_for(physician.user).post("/api/questionnaires", payload).status_code == 403
    assert client_for(ops_admin).post("/api/questionnaires", payload).status_code == 403
    assert api.post("/api/questionnaires", payload, format="json").status_code == 401
    no_record = client_for(UserFactory(role="patient"))
    assert no_record.post("/api/questionnaires", payload, format="json").status_code == 409


# --- trend ---------------------------------------------------------------------------------


@pytest.fixture
def history(patient):
    """Intake (PHQ-9 16, GAD-7 11), then two follow-ups of each, and some mood."""
    record = patient.patient
    intake = intake_for(record)
    for days, phq9, gad7 in [
        (28, [1] * 8 + [0], [1] * 7),
        (56, [1, 1, 1, 0, 0, 0, 0, 0, 0], [0] * 7),
    ]:
        with time_machine.travel(INTAKE_AT + timedelta(days=days), tick=False):
            questionnaire_submit(patient=record, instrument="phq9", answers=phq9)
            questionnaire_submit(patient=record, instrument="gad7", answers=gad7)
            client_for(patient).post("/api/moods", {"score": days // 10}, format="json")
    record.set_phone(PATIENT_PHONE)
    record.save()
    with time_machine.travel(INTAKE_AT + timedelta(days=57), tick=False):
        sms_from_patient_phone("8")
    return intake


def test_trend_series_baseline_and_change(patient, history):
    response = client_for(patient).get(f"/api/patients/{patient.patient.public_id}/trend")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["patient_id"] == str(patient.patient.public_id)
    phq9, gad7 = body["instruments"]
    assert phq9["instrument"] == "phq9"
    assert [(p["total"], p["band"], p["source"]) for p in phq9["series"]] == [
        (16, "moderately_severe", "intake"),
        (8, "mild", "followup"),
        (3, "minimal", "followup"),
    ]
    assert phq9["series"][0]["id"] == str(history.public_id)
    assert phq9["series"][0]["submitted_at"] == "2027-03-02T15:00:00Z"
    assert (phq9["baseline"], phq9["latest"], phq9["change_since_baseline"]) == (16, 3, -13)
    assert phq9["latest_band"] == "minimal"
    assert [p["total"] for p in gad7["series"]] == [11, 7, 0]
    assert (gad7["baseline"], gad7["latest"], gad7["change_since_baseline"]) == (11, 0, -11)
    assert [(m["score"], m["source"]) for m in body["mood"]] == [(2, "app"), (5, "app"), (8, "sms")]


def test_trend_reads_are_audited_with_one_insert(patient, history, physician):
    client = client_for(physician.user)
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/patients/{patient.patient.public_id}/trend")

    inserts = [q for q in queries.captured_queries if "INSERT INTO audit_auditevent" in q["sql"]]
    assert len(inserts) == 1
    reads = AuditEvent.objects.filter(action="read", actor=physician.user)
    assert reads.get(object_type="patients.trend").detail == {"moods": 3}
    assert reads.filter(object_type="patients.questionnaireresponse").count() == 4
    assert reads.filter(object_type="patients.intake").count() == 1
    assert set(reads.values_list("patient_id", flat=True)) == {patient.patient.public_id}


def test_an_empty_trend(patient):
    body = client_for(patient).get(f"/api/patients/{patient.patient.public_id}/trend").json()
    assert [i["series"] for i in body["instruments"]] == [[], []]
    assert body["instruments"][0]["change_since_baseline"] is None
    assert body["mood"] == []


def test_an_intake_without_questionnaire_answers_adds_no_point(patient):
    intake_for(patient.patient, answers={})
    body = client_for(patient).get(f"/api/patients/{patient.patient.public_id}/trend").json()
    assert [i["series"] for i in body["instruments"]] == [[], []]


def test_the_trend_query_count_does_not_grow_with_history(patient, django_assert_max_num_queries):
    from patients.selectors.measurement import patient_trend

    intake_for(patient.patient)
    for day in range(5):
        with time_machine.travel(INTAKE_AT + timedelta(days=day + 1), tick=False):
            questionnaire_submit(patient=patient.patient, instrument="phq9", answers=[1] * 9)
    with django_assert_max_num_queries(3):
        trend = patient_trend(patient.patient)
    assert len(trend.instruments[0].series) == 6


@pytest.mark.parametrize("view", ["trend", "clearance"])
@pytest.mark.parametrize(
    ("viewer", "status"),
    [
        ("self", 200),
        ("other_patient", 404),
        ("physician", 200),
        ("unlicensed_physician", 404),
        ("ops_admin", 404),
        ("anonymous", 401),
    ],
)
def test_clinical_views_access_per_role(request, api, patient, view, viewer, status):
    url = f"/api/patients/{patient.patient.public_id}/{view}"
    if viewer == "anonymous":
        response = api.get(url)
    else:
        user = patient if viewer == "self" else actor_user(request, viewer)
        response = client_for(user).get(url)
    assert response.status_code == status
    if status == 404:
        assert response.json()["error"]["code"] == "not_found"


def test_a_physician_licensed_elsewhere_sees_no_trend(other_patient):
    from tests.factories import LicenseFactory, PhysicianFactory

    florida_only = PhysicianFactory(last_name="Fenn")
    LicenseFactory(physician=florida_only, state="FL")
    url = f"/api/patients/{other_patient.patient.public_id}/trend"  # New Jersey
    assert client_for(florida_only.user).get(url).status_code == 404


def test_unknown_patient_trend_is_404(patient):
    assert client_for(patient).get(f"/api/patients/{uuid.uuid4()}/trend").status_code == 404


# --- double submission ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_double_click_stores_one_response_and_raises_one_flag(patient, physician):
    """Two identical submissions at once (two threads, two connections): the patient's row
    lock serializes them and the second returns the first response."""
    intake_for(patient.patient)
    start = threading.Barrier(2)
    codes: list[int] = []
    ids: list[str] = []

    def attempt() -> None:
        try:
            start.wait()
            response = questionnaire_post(patient, "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 2])
            codes.append(response.status_code)
            ids.append(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [201, 201]
    assert len(set(ids)) == 1
    assert QuestionnaireResponse.objects.filter(patient=patient.patient).count() == 1
    assert SafetyFlag.objects.filter(patient=patient.patient).count() == 1
    assert Message.objects.filter(template_key="review_alert").count() == 1


def test_an_identical_response_after_the_window_is_a_new_response(patient, settings):
    settings.QUESTIONNAIRE_DEDUPE_SECONDS = 60
    answers = [1, 1, 1, 1, 1, 1, 1]
    with time_machine.travel(datetime(2027, 3, 20, 15, 0, tzinfo=UTC), tick=False):
        first = questionnaire_submit(patient=patient.patient, instrument="gad7", answers=answers)
        again = questionnaire_submit(patient=patient.patient, instrument="gad7", answers=answers)
        assert again.response.pk == first.response.pk
        other = questionnaire_submit(
            patient=patient.patient, instrument="gad7", answers=[2, 1, 1, 1, 1, 1, 1]
        )
        assert other.response.pk != first.response.pk
    with time_machine.travel(datetime(2027, 3, 20, 15, 1, 1, tzinfo=UTC), tick=False):
        later = questionnaire_submit(patient=patient.patient, instrument="gad7", answers=answers)
    assert later.response.pk != first.response.pk
    assert QuestionnaireResponse.objects.filter(patient=patient.patient).count() == 3


def test_safety_flag_kind_is_encrypted_at_rest_and_kept_out_of_the_audit(patient):
    questionnaire_submit(patient=patient.patient, instrument="phq9", answers=[0] * 8 + [1])
    flag = SafetyFlag.objects.get()
    assert flag.kind == "self_harm_thoughts"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM patients_safetyflag")
        raw = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert "self_harm" not in raw
    event = AuditEvent.objects.get(action="create", object_type="patients.safetyflag")
    assert "self_harm" not in str(event.detail)
    assert event.detail == {"source": "questionnaire"}

"""Physician review: the queue (licence scoping, order, fixed query count, audit), one
intake in full, approve / decline / request information and the patient's answer, safety
flags blocking approval until resolved, concurrent decisions, each role's access."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from notifications.models import Message
from patients.models import Intake, IntakeReview, IntakeStatus, SafetyFlag
from patients.services.intake import intake_save_draft
from tests.actors import client_for
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory
from tests.patients.test_intake import complete_answers, submitted_intake

pytestmark = pytest.mark.django_db

SELF_HARM = {"phq9": [2, 2, 1, 1, 1, 2, 1, 2, 1]}


@pytest.fixture
def fl_only_physician() -> Any:
    doctor = PhysicianFactory(last_name="Florida")
    LicenseFactory(physician=doctor, state="FL")
    return doctor


def queue(user: Any, query: str = "") -> Any:
    return client_for(user).get(f"/api/review/intakes{query}")


def act(user: Any, intake: Intake, action: str, body: dict[str, Any] | None = None) -> Any:
    return client_for(user).post(
        f"/api/review/intakes/{intake.public_id}/{action}", body or {}, format="json"
    )


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def set_submitted_at(intake: Intake, days_ago: int) -> None:
    Intake.objects.filter(pk=intake.pk).update(
        submitted_at=timezone.now() - dt.timedelta(days=days_ago)
    )


# --- the queue ---------------------------------------------------------------------------


def test_queue_is_scoped_by_licence(
    patient, other_patient, physician, fl_only_physician, unlicensed_physician
):
    fl = submitted_intake(patient)
    nj = submitted_intake(other_patient)
    assert ids(queue(fl_only_physician.user)) == [str(fl.public_id)]
    assert set(ids(queue(physician.user))) == {str(fl.public_id), str(nj.public_id)}
    assert ids(queue(unlicensed_physician.user)) == []
    lapsed = PhysicianFactory()
    LicenseFactory(physician=lapsed, state="FL", expires_on=timezone.localdate() - dt.timedelta(1))
    assert ids(queue(lapsed.user)) == []


def test_queue_holds_only_intakes_awaiting_review(patient, other_patient, physician):
    intake_save_draft(patient=patient.patient, answers={"phq9": [0]})  # a draft: never listed
    decided = submitted_intake(other_patient)
    assert ids(queue(physician.user)) == [str(decided.public_id)]
    assert act(physician.user, decided, "decline", {"reason": "Not a fit."}).status_code == 200
    assert ids(queue(physician.user)) == []


def test_flagged_patients_first_then_oldest_first(physician):
    oldest, middle, newest_flagged = (PatientFactory().user for _ in range(3))
    a = submitted_intake(oldest)
    b = submitted_intake(middle)
    c = submitted_intake(newest_flagged, complete_answers(**SELF_HARM))
    set_submitted_at(a, 3)
    set_submitted_at(b, 2)
    set_submitted_at(c, 1)
    body = queue(physician.user).json()
    assert [r["id"] for r in body["results"]] == [str(i.public_id) for i in (c, a, b)]
    top = body["results"][0]
    flag = SafetyFlag.objects.get()
    assert top["open_safety_flags"] == [
        {
            "id": str(flag.public_id),
            "kind": "self_harm_thoughts",
            "raised_at": top["open_safety_flags"][0]["raised_at"],
        }
    ]
    assert top["patient_id"] == str(newest_flagged.patient.public_id)
    assert top["patient_name"] == f"Jordan {newest_flagged.patient.legal_last_name}"
    assert (top["state"], top["status"], top["outcome"]) == ("FL", "submitted", "needs_review")
    assert body["results"][1]["open_safety_flags"] == []
    flagged_only = queue(physician.user, "?flagged=true").json()["results"]
    assert [r["id"] for r in flagged_only] == [str(c.public_id)]


def test_queue_filters_by_state(physician, patient, other_patient):
    submitted_intake(patient)
    nj = submitted_intake(other_patient)
    assert ids(queue(physician.user, "?state=NJ")) == [str(nj.public_id)]


def test_queue_runs_fixed_queries_and_audits_every_row_in_one_insert(physician):
    for _ in range(3):
        submitted_intake(PatientFactory().user, complete_answers(**SELF_HARM))
    client = client_for(physician.user)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get("/api/review/intakes").json()["results"]) == 3
    for _ in range(22):
        submitted_intake(PatientFactory().user, complete_answers(**SELF_HARM))
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/review/intakes?page_size=25").json()["results"]) == 25
    assert len(many) == len(few)
    audit_inserts = [q for q in many.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(audit_inserts) == 1
    reads = AuditEvent.objects.filter(action="read", object_type="patients.intake")
    assert reads.count() == 28
    assert set(reads.values_list("actor_id", flat=True)) == {physician.user_id}


def test_queue_pages_twenty_at_a_time(physician):
    for _ in range(21):
        submitted_intake(PatientFactory().user)
    body = queue(physician.user).json()
    assert (body["count"], len(body["results"])) == (21, 20)
    assert body["next"]


# --- one intake --------------------------------------------------------------------------


def test_physician_reads_an_intake_in_full_and_it_is_audited(patient, physician):
    intake = submitted_intake(patient, complete_answers(**SELF_HARM))
    response = client_for(physician.user).get(f"/api/review/intakes/{intake.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["answers"]["phq9"] == SELF_HARM["phq9"]
    assert body["screening"]["outcome"] == "needs_review"
    assert body["screening"]["scores"]["phq9"]["total"] == 13
    assert "self_harm_thoughts" in [r["code"] for r in body["screening"]["reasons"]]
    assert [f["kind"] for f in body["safety_flags"]] == ["self_harm_thoughts"]
    assert body["reviews"] == []
    assert body["awaiting_review"] is True
    assert body["patient"]["date_of_birth"] == "1985-06-01"
    assert body["patient"]["id"] == str(patient.patient.public_id)
    reads = AuditEvent.objects.filter(action="read", actor=physician.user)
    assert set(reads.values_list("object_type", flat=True)) == {
        "patients.intake",
        "patients.patient",
        "patients.safetyflag",
    }
    assert set(reads.values_list("patient_id", flat=True)) == {patient.patient.public_id}


def test_intake_outside_my_states_and_drafts_are_404(other_patient, patient, fl_only_physician):
    nj = submitted_intake(other_patient)
    draft = intake_save_draft(patient=patient.patient, answers={"phq9": [0]})
    client = client_for(fl_only_physician.user)
    assert client.get(f"/api/review/intakes/{nj.public_id}").status_code == 404
    assert client.get(f"/api/review/intakes/{draft.public_id}").status_code == 404
    assert act(fl_only_physician.user, nj, "approve").status_code == 404
    assert not AuditEvent.objects.filter(action="read").exists()
    assert Intake.objects.get(pk=nj.pk).status == IntakeStatus.SUBMITTED


# --- decisions ---------------------------------------------------------------------------


def patient_messages(user: Any) -> list[Message]:
    return list(Message.objects.filter(recipient=user).order_by("channel"))


def test_approve_records_the_decision_and_tells_the_patient(patient, physician):
    intake = submitted_intake(patient)
    response = act(physician.user, intake, "approve")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved"
    assert body["review"]["action"] == "approve"
    assert body["review"]["physician_id"] == str(physician.user.public_id)
    intake.refresh_from_db()
    assert intake.status == IntakeStatus.APPROVED
    assert intake.decided_at is not None
    review = IntakeReview.objects.get()
    assert (review.physician, review.action) == (physician, "approve")

    messages = patient_messages(patient)
    assert [(m.channel, m.template_key, m.category) for m in messages] == [
        ("email", "account_update", "care"),
        ("sms", "account_update", "care"),
    ]
    for m in messages:
        assert m.dedupe_key == f"intake:{intake.public_id}:{review.public_id}:{m.channel}"
        assert m.context == {"path": "/intake"}

    mine = client_for(patient).get("/api/intake").json()
    assert mine["status"] == "approved"
    assert mine["decision"]["action"] == "approve"
    # Acting again on a decided intake is a conflict.
    again = act(physician.user, intake, "decline", {"reason": "Changed my mind"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "intake_not_awaiting_review"
    # After approval no new intake starts.
    assert client_for(patient).put("/api/intake", {"answers": {}}, format="json").status_code == 409


def test_decline_needs_a_reason_which_the_patient_sees(patient, physician):
    intake = submitted_intake(patient)
    missing = act(physician.user, intake, "decline")
    assert missing.status_code == 400
    assert "reason" in missing.json()["error"]["fields"]
    assert act(physician.user, intake, "decline", {"reason": "  "}).status_code == 400
    response = act(physician.user, intake, "decline", {"reason": "Please see your own doctor."})
    assert response.status_code == 200
    mine = client_for(patient).get("/api/intake").json()
    assert mine["decision"] == {
        "action": "decline",
        "reason": "Please see your own doctor.",
        "decided_at": mine["decision"]["decided_at"],
    }
    assert len(patient_messages(patient)) == 2
    # A declined patient may start again.
    restart = client_for(patient).put("/api/intake", {"answers": {}}, format="json")
    assert restart.status_code == 200
    assert restart.json()["status"] == "draft"


def test_bad_decision_input_is_a_field_error(patient, physician):
    intake = submitted_intake(patient)
    unknown = act(physician.user, intake, "approve", {"verdict": "yes"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"] == {"verdict": ["Unknown field."]}
    wrong_type = act(physician.user, intake, "request-info", {"question": ["?"]})
    assert wrong_type.status_code == 400
    assert "question" in wrong_type.json()["error"]["fields"]
    assert Intake.objects.get().status == IntakeStatus.SUBMITTED


def test_request_info_then_the_patient_answers_and_it_returns_to_the_queue(patient, physician):
    intake = submitted_intake(patient)
    asked = act(physician.user, intake, "request-info", {"question": "Which dose of sertraline?"})
    assert asked.status_code == 200
    assert asked.json()["status"] == "info_requested"
    assert ids(queue(physician.user)) == []
    assert act(physician.user, intake, "approve").status_code == 409  # waiting for the patient
    assert len(patient_messages(patient)) == 2

    client = client_for(patient)
    mine = client.get("/api/intake").json()
    assert mine["editable"] is True
    [question] = mine["pending_questions"]
    assert question["question"] == "Which dose of sertraline?"

    answered = client.post(
        "/api/intake/answer", {"review_id": question["id"], "answer": "50 mg"}, format="json"
    )
    assert answered.status_code == 200, answered.json()
    assert answered.json()["status"] == "submitted"
    assert answered.json()["pending_questions"] == []
    assert answered.json()["questions"][0]["answer"] == "50 mg"
    again = client.post(
        "/api/intake/answer", {"review_id": question["id"], "answer": "60 mg"}, format="json"
    )
    assert again.status_code == 409

    assert ids(queue(physician.user)) == [str(intake.public_id)]
    detail = client_for(physician.user).get(f"/api/review/intakes/{intake.public_id}").json()
    assert [r["patient_answer"] for r in detail["reviews"]] == ["50 mg"]
    assert act(physician.user, intake, "approve").status_code == 200


def test_answering_someone_elses_question_is_404(patient, other_patient, physician):
    intake = submitted_intake(patient)
    act(physician.user, intake, "request-info", {"question": "Any recent surgery?"})
    review = IntakeReview.objects.get()
    submitted_intake(other_patient)
    response = client_for(other_patient).post(
        "/api/intake/answer", {"review_id": str(review.public_id), "answer": "no"}, format="json"
    )
    assert response.status_code == 404
    bad = client_for(patient).post(
        "/api/intake/answer", {"review_id": "nope", "answer": ""}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"review_id", "answer"}


def test_corrected_answers_are_screened_again_before_approval(patient, physician):
    high_bp = {"systolic": 170, "diastolic": 85, "height_cm": 170, "weight_kg": 70}
    intake = submitted_intake(patient, complete_answers(vitals=high_bp))
    refused = act(physician.user, intake, "approve")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "screening_not_eligible"

    act(
        physician.user,
        intake,
        "request-info",
        {"question": "Please re-measure your blood pressure."},
    )
    client = client_for(patient)
    corrected = {"systolic": 124, "diastolic": 80, "height_cm": 170, "weight_kg": 70}
    assert (
        client.put("/api/intake", {"answers": {"vitals": corrected}}, format="json").status_code
        == 200
    )
    question = client.get("/api/intake").json()["pending_questions"][0]
    body = client.post(
        "/api/intake/answer", {"review_id": question["id"], "answer": "Done: 124/80"}, format="json"
    ).json()
    assert body["screening"]["outcome"] == "eligible_pending_review"
    assert act(physician.user, intake, "approve").status_code == 200


def test_an_open_safety_flag_blocks_approval_until_resolved(patient, physician):
    intake = submitted_intake(patient, complete_answers(**SELF_HARM))
    blocked = act(physician.user, intake, "approve")
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "safety_flag_open"
    assert Intake.objects.get().status == IntakeStatus.SUBMITTED

    flag = SafetyFlag.objects.get()
    client = client_for(physician.user)
    url = f"/api/review/safety-flags/{flag.public_id}/resolve"
    assert client.post(url, {}, format="json").status_code == 400  # a note is required
    resolved = client.post(
        url, {"note": "Spoke with the patient; safety plan in place."}, format="json"
    )
    assert resolved.status_code == 200, resolved.json()
    assert resolved.json()["resolved_by"] == str(physician.user.public_id)
    assert resolved.json()["source"] == "intake"
    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert flag.resolved_by == physician.user
    assert flag.resolution_note == "Spoke with the patient; safety plan in place."
    assert AuditEvent.objects.filter(
        action="update", object_type="patients.safetyflag", object_id=str(flag.public_id)
    ).exists()
    assert client.post(url, {"note": "again"}, format="json").status_code == 409

    assert act(physician.user, intake, "approve").status_code == 200


def test_flags_are_resolved_only_by_physicians_licensed_in_the_state(
    other_patient, fl_only_physician, ops_admin
):
    submitted_intake(other_patient, complete_answers(**SELF_HARM))  # New Jersey
    flag = SafetyFlag.objects.get()
    url = f"/api/review/safety-flags/{flag.public_id}/resolve"
    assert (
        client_for(fl_only_physician.user).post(url, {"note": "x"}, format="json").status_code
        == 404
    )
    assert client_for(ops_admin).post(url, {"note": "x"}, format="json").status_code == 403
    assert client_for(other_patient).post(url, {"note": "x"}, format="json").status_code == 403
    flag.refresh_from_db()
    assert flag.resolved_at is None


@pytest.mark.django_db(transaction=True)
def test_two_physicians_acting_at_once_one_wins(patient, physician, fl_only_physician):
    intake = submitted_intake(patient)
    attempts = [
        (client_for(physician.user), "approve", {}),
        (client_for(fl_only_physician.user), "decline", {"reason": "Not suitable."}),
    ]
    start = threading.Barrier(len(attempts))
    codes: list[int] = []

    def go(client: Any, action: str, body: dict[str, Any]) -> None:
        try:
            start.wait()
            url = f"/api/review/intakes/{intake.public_id}/{action}"
            codes.append(client.post(url, body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=a) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes) == [200, 409]
    review = IntakeReview.objects.get()
    intake.refresh_from_db()
    assert intake.status == {"approve": "approved", "decline": "declined"}[review.action]
    assert Message.objects.filter(recipient=patient).count() == 2


# --- who may use review ----------------------------------------------------------------


def test_only_physicians_reach_review(api, patient, ops_admin):
    intake = submitted_intake(patient)
    flag_url = f"/api/review/safety-flags/{intake.public_id}/resolve"
    endpoints = [
        ("get", "/api/review/intakes"),
        ("get", f"/api/review/intakes/{intake.public_id}"),
        ("post", f"/api/review/intakes/{intake.public_id}/approve"),
        ("post", f"/api/review/intakes/{intake.public_id}/decline"),
        ("post", f"/api/review/intakes/{intake.public_id}/request-info"),
        ("post", flag_url),
    ]
    for method, url in endpoints:
        assert getattr(api, method)(url, format="json").status_code == 401, url
        for user in (patient, ops_admin):  # ops admins never see clinical answers
            response = getattr(client_for(user), method)(url, format="json")
            assert response.status_code == 403, (user.role, url)
            assert "answers" not in response.json()
    assert not AuditEvent.objects.filter(action="read").exists()
    assert Intake.objects.get().status == IntakeStatus.SUBMITTED

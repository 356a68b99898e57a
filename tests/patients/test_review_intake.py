"""One intake in full for the physician, and the decisions on it: approve, decline, request
information and the patient's answer, hard stops, open safety flags blocking approval,
audit without clinical detail, two physicians deciding at once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEvent
from notifications.models import Message
from patients.models import Intake, IntakeReview, IntakeStatus, SafetyFlag
from patients.screening import CONDITIONS
from patients.services.intake import intake_save_draft
from tests.actors import client_for
from tests.patients import support_review
from tests.patients.support import complete_intake_answers, submitted_intake
from tests.patients.support_review import (
    SELF_HARM,
    act,
    ids,
    queue,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fl_only_physician() -> Any:
    return support_review.fl_only_physician()


# --- one intake --------------------------------------------------------------------------


def test_physician_reads_an_intake_in_full_and_it_is_audited(patient, physician):
    intake = submitted_intake(patient, complete_intake_answers(**SELF_HARM))
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
    assert mine["editable"] is False  # the question is answered in text, answers are frozen
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


def test_a_declared_hard_stop_cannot_be_edited_away_while_a_question_is_open(patient, physician):
    hard_stop = complete_intake_answers(
        medical_history=dict.fromkeys(CONDITIONS, False) | {"schizophrenia": True}
    )
    intake = submitted_intake(patient, hard_stop)
    submitted = Intake.objects.get(pk=intake.pk)
    original_answers, original_screening = submitted.answers, submitted.screening
    assert original_screening["outcome"] == "not_eligible"
    refused = act(physician.user, intake, "approve")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "screening_not_eligible"

    asked = act(physician.user, intake, "request-info", {"question": "Who diagnosed this?"})
    assert asked.status_code == 200
    client = client_for(patient)
    mine = client.get("/api/intake").json()
    assert (mine["status"], mine["editable"]) == ("info_requested", False)
    # The patient cannot edit the answers while the question is open...
    erased = dict.fromkeys(CONDITIONS, False)
    edit = client.put("/api/intake", {"answers": {"medical_history": erased}}, format="json")
    assert edit.status_code == 409
    assert edit.json()["error"]["code"] == "intake_not_editable"
    # ...and answers the question in text, which changes neither answers nor screening.
    [question] = mine["pending_questions"]
    answered = client.post(
        "/api/intake/answer",
        {"review_id": question["id"], "answer": "It was a misdiagnosis, I am fine now."},
        format="json",
    )
    assert answered.status_code == 200, answered.json()
    body = answered.json()
    assert body["status"] == "submitted"
    assert body["screening"]["outcome"] == "not_eligible"
    assert body["answers"]["medical_history"]["schizophrenia"] is True
    after = Intake.objects.get(pk=intake.pk)
    assert after.answers == original_answers
    assert after.screening == original_screening
    assert ids(queue(physician.user)) == [str(intake.public_id)]  # back in the queue
    refused = act(physician.user, intake, "approve")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "screening_not_eligible"
    assert Intake.objects.get(pk=intake.pk).status == IntakeStatus.SUBMITTED

    # Answers to correct: the physician declines and the patient starts a new intake; the
    # old one stays in the history as it was.
    assert act(physician.user, intake, "decline", {"reason": "Please start again."}).status_code
    restart = client.put("/api/intake", {"answers": {"medical_history": erased}}, format="json")
    assert restart.status_code == 200
    assert restart.json()["status"] == "draft"
    assert restart.json()["id"] != str(intake.public_id)
    old = Intake.objects.get(pk=intake.pk)
    assert (old.status, old.answers, old.screening) == (
        IntakeStatus.DECLINED,
        original_answers,
        original_screening,
    )


def test_audit_events_carry_no_clinical_detail(patient, physician):
    risky = complete_intake_answers(
        cssrs={"items": [True, True, False, True, False, False], "lifetime_behaviour": False},
        phq9=SELF_HARM["phq9"],
    )
    client = client_for(patient)
    assert client.put("/api/intake", {"answers": risky}, format="json").status_code == 200
    assert client.post("/api/intake/submit", {}, format="json").status_code == 200
    intake = Intake.objects.get()
    assert intake.screening["outcome"] == "not_eligible"
    kinds = set(SafetyFlag.objects.values_list("kind", flat=True))
    assert kinds == {"self_harm_thoughts", "suicidal_intent_or_plan", "suicidal_thoughts"}
    doctor = client_for(physician.user)
    for flag in SafetyFlag.objects.all():
        url = f"/api/review/safety-flags/{flag.public_id}/resolve"
        assert doctor.post(url, {"note": "Called the patient."}, format="json").status_code == 200
    act(physician.user, intake, "request-info", {"question": "Are you safe right now?"})
    [question] = client.get("/api/intake").json()["pending_questions"]
    answer = {"review_id": question["id"], "answer": "Yes."}
    assert client.post("/api/intake/answer", answer, format="json").status_code == 200
    assert act(physician.user, intake, "decline", {"reason": "Not safe."}).status_code == 200

    events = list(AuditEvent.objects.all())
    assert {e.object_type for e in events} >= {
        "patients.intake",
        "patients.intakereview",
        "patients.safetyflag",
    }
    clinical = {
        *kinds,
        "not_eligible",
        "needs_review",
        "eligible_pending_review",
        "urgent_safety",
        "medical_history",
        "cssrs",
        "phq9",
        "decline",
        "declined",
        "outcome",
        "sections",
    }
    for event in events:
        text = json.dumps(event.detail or {})
        assert not [word for word in clinical if word in text], (event.object_type, text)


def test_an_open_safety_flag_blocks_approval_until_resolved(patient, physician):
    intake = submitted_intake(patient, complete_intake_answers(**SELF_HARM))
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

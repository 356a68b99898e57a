"""Physician review: the queue (licence scoping, order, fixed query count, audit), one
intake in full, approve / decline / request information and the patient's answer, safety
flags blocking approval until resolved, concurrent decisions, each role's access."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from core.clock import practice_today
from notifications.models import Message
from patients.models import Intake, IntakeReview, IntakeStatus, SafetyFlag
from patients.screening import CONDITIONS
from patients.selectors.review import review_queue
from patients.selectors.review_queue import review_queue_page_audited as review_queue_page
from patients.services.intake import intake_save_draft, intake_screening
from tests.actors import client_for
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory
from tests.patients.test_intake import complete_answers, submitted_intake, with_condition

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
    LicenseFactory(physician=lapsed, state="FL", expires_on=practice_today() - dt.timedelta(1))
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


def test_queue_shows_the_outcome_column_without_decrypting_the_screening_document(
    physician, patient, other_patient
):
    eligible = submitted_intake(patient)
    hard_stop = submitted_intake(other_patient, with_condition("schizophrenia"))
    # Documents that cannot be decrypted: the queue must not need them.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE patients_intake SET screening = 'not a token'")
    outcomes = {row["id"]: row["outcome"] for row in queue(physician.user).json()["results"]}
    assert outcomes == {
        str(eligible.public_id): "eligible_pending_review",
        str(hard_stop.public_id): "not_eligible",
    }
    assert {i.screening_outcome for i in review_queue(physician.user)} == {
        "eligible_pending_review",
        "not_eligible",
    }


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


@pytest.mark.parametrize("sizes", [(5, 20), (1, 25)])
def test_queue_query_count_does_not_grow_with_page_size(physician, sizes):
    for n in range(25):
        answers = complete_answers(**SELF_HARM) if n % 3 == 0 else None  # some rows flagged
        submitted_intake(PatientFactory().user, answers)
    client = client_for(physician.user)
    counts = []
    for size in sizes:
        with CaptureQueriesContext(connection) as captured:
            body = client.get(f"/api/review/intakes?page_size={size}").json()
        assert (body["count"], len(body["results"])) == (25, size)
        counts.append(len(captured))
    assert counts[0] == counts[1]
    reads = AuditEvent.objects.filter(action="read", object_type="patients.intake")
    assert reads.count() == sum(sizes)


def test_queue_pages_like_page_number_pagination(physician):
    intakes = [submitted_intake(PatientFactory().user) for _ in range(12)]
    for days_ago, intake in zip(range(12, 0, -1), intakes, strict=True):
        set_submitted_at(intake, days_ago)  # oldest first: the creation order
    expected = [str(i.public_id) for i in intakes]
    base = "http://testserver/api/review/intakes"

    first = queue(physician.user, "?page_size=5").json()
    assert (first["count"], first["previous"]) == (12, None)
    assert first["next"] == f"{base}?page=2&page_size=5"
    assert [r["id"] for r in first["results"]] == expected[:5]

    second = queue(physician.user, "?page_size=5&page=2").json()
    assert [r["id"] for r in second["results"]] == expected[5:10]
    assert second["previous"] == f"{base}?page_size=5"
    assert second["next"] == f"{base}?page=3&page_size=5"

    for page in ("3", "last"):
        third = queue(physician.user, f"?page_size=5&page={page}").json()
        assert [r["id"] for r in third["results"]] == expected[10:]
        assert (third["count"], third["next"]) == (12, None)
        assert third["previous"] == f"{base}?page=2&page_size=5"

    for page in ("4", "0", "-1", "two", "1.0"):
        missing = queue(physician.user, f"?page_size=5&page={page}")
        assert missing.status_code == 404, page
        assert missing.json()["error"] == {
            "code": "not_found",
            "message": "Invalid page.",
            "fields": {},
        }
    bad_state = queue(physician.user, "?state=TX")
    assert bad_state.status_code == 400
    assert list(bad_state.json()["error"]["fields"]) == ["state"]


def test_an_empty_queue_is_one_empty_page(physician):
    for query in ("", "?page=last", "?flagged=true"):
        assert queue(physician.user, query).json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }
    assert queue(physician.user, "?page=2").status_code == 404
    assert not AuditEvent.objects.filter(action="read").exists()


def test_queue_page_answers_exactly_what_the_queue_queryset_does(
    physician, fl_only_physician, unlicensed_physician
):
    """The page is read with hand-written SQL (selectors.review_queue_page); the queryset
    (selectors.review_queue) is the readable definition. Same rows, same order, same
    totals, for every viewer, filter and offset."""
    fl = [PatientFactory().user for _ in range(6)]
    nj = [
        PatientFactory(county="Bergen", state="NJ", time_zone="America/New_York").user
        for _ in range(3)
    ]
    intakes = [submitted_intake(user) for user in fl[:4] + nj[:2]]
    flagged = [submitted_intake(user, complete_answers(**SELF_HARM)) for user in (fl[4], nj[2])]
    resolved = submitted_intake(fl[5], complete_answers(**SELF_HARM))
    SafetyFlag.objects.filter(patient=resolved.patient).update(resolved_at=timezone.now())
    now = timezone.now()
    for n, intake in enumerate([*intakes, *flagged, resolved]):  # ties too: broken by id
        Intake.objects.filter(pk=intake.pk).update(submitted_at=now - dt.timedelta(days=n % 4))
    asked, answered, approved = intakes[0], intakes[1], intakes[2]
    Intake.objects.filter(pk__in=[asked.pk, answered.pk]).update(status="info_requested")
    Intake.objects.filter(pk=approved.pk).update(status="approved")
    for intake, answered_at in ((asked, None), (answered, timezone.now())):
        IntakeReview.objects.create(
            intake=intake,
            physician=physician,
            action="request_info",
            note="Which dose?",
            answered_at=answered_at,
        )
    intake_save_draft(patient=PatientFactory(), answers={"phq9": [0]})  # a draft
    lapsed = PhysicianFactory()
    LicenseFactory(physician=lapsed, state="FL", expires_on=practice_today() - dt.timedelta(1))
    suspended = PhysicianFactory()
    LicenseFactory(physician=suspended, state="FL", status="suspended")

    viewers = [physician, fl_only_physician, unlicensed_physician, lapsed, suspended]
    for viewer in [doctor.user for doctor in viewers]:
        for state, only_flagged in [(None, None), ("FL", None), ("NJ", None), (None, True),
                                    (None, False), ("NJ", True)]:  # fmt: skip
            expected = review_queue(viewer)
            if state:
                expected = expected.filter(patient__state=state)
            if only_flagged is not None:
                expected = expected.filter(has_open_flag=only_flagged)
            want = list(expected)
            page = review_queue_page(viewer, offset=0, limit=50, state=state, flagged=only_flagged)
            assert [r.public_id for r in page.rows] == [i.public_id for i in want]
            assert page.total == len(want)
            for row, intake in zip(page.rows, want, strict=True):
                patient = intake.patient
                assert (row.status, row.submitted_at, row.state) == (
                    intake.status,
                    intake.submitted_at,
                    patient.state,
                )
                assert row.outcome == intake.screening_outcome
                assert row.outcome == intake_screening(intake)["outcome"]
                assert (row.patient_public_id, row.patient_first_name, row.patient_last_name) == (
                    patient.public_id,
                    patient.legal_first_name,
                    patient.legal_last_name,
                )
                assert [(f.public_id, f.kind, f.raised_at) for f in row.open_flags] == [
                    (f.public_id, f.kind, f.raised_at) for f in patient.open_flags
                ]
            if len(want) > 2:
                middle = review_queue_page(viewer, offset=1, limit=2, state=state)
                if only_flagged is None:
                    assert [r.public_id for r in middle.rows] == [i.public_id for i in want[1:3]]
                    assert middle.total == len(want)
    everyone = review_queue_page(physician.user, offset=0, limit=50)
    assert {r.public_id for r in everyone.rows} == {
        i.public_id for i in [answered, intakes[3], *intakes[4:], *flagged, resolved]
    }
    assert {r.public_id for r in everyone.rows[:2]} == {i.public_id for i in flagged}


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
    hard_stop = complete_answers(
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
    risky = complete_answers(
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
    intake = submitted_intake(patient, complete_answers(**SELF_HARM))
    flag = SafetyFlag.objects.get()
    endpoints = [
        ("get", "/api/review/intakes"),
        ("get", f"/api/review/intakes/{intake.public_id}"),
        ("post", f"/api/review/intakes/{intake.public_id}/approve"),
        ("post", f"/api/review/intakes/{intake.public_id}/decline"),
        ("post", f"/api/review/intakes/{intake.public_id}/request-info"),
        ("get", "/api/review/safety-flags"),
        ("get", f"/api/review/safety-flags/{flag.public_id}"),
        ("post", f"/api/review/safety-flags/{flag.public_id}/resolve"),
    ]
    bodies = {
        "decline": {"reason": "x"},
        "request-info": {"question": "x"},
        "resolve": {"note": "x"},
    }
    for method, url in endpoints:
        body = bodies.get(url.rsplit("/", 1)[-1], {})
        assert getattr(api, method)(url, body, format="json").status_code == 401, url
        for user in (patient, ops_admin):  # ops admins never see clinical answers
            response = getattr(client_for(user), method)(url, body, format="json")
            assert response.status_code == 403, (user.role, url)
            assert response.json()["error"]["code"] in ("permission_denied", "forbidden")
            text = json.dumps(response.json())
            assert str(flag.public_id) not in text or url.endswith(str(flag.public_id))
            assert "self_harm_thoughts" not in text
            assert "phq9" not in text
    assert not AuditEvent.objects.filter(action="read").exists()
    assert Intake.objects.get().status == IntakeStatus.SUBMITTED
    flag.refresh_from_db()
    assert flag.resolved_at is None
    assert not IntakeReview.objects.exists()


# --- safety flags ------------------------------------------------------------------------


def approved_with_questionnaire_flag(patient_user: Any, physician: Any) -> SafetyFlag:
    """An approved patient whose follow-up questionnaire raised a flag (never in the queue)."""
    intake = submitted_intake(patient_user)
    assert act(physician.user, intake, "approve").status_code == 200
    return SafetyFlag.objects.create(
        patient=patient_user.patient, kind="self_harm_thoughts", source="questionnaire"
    )


def flag_list(user: Any, query: str = "") -> Any:
    return client_for(user).get(f"/api/review/safety-flags{query}")


def test_a_questionnaire_flag_of_an_approved_patient_reaches_licensed_physicians(
    patient, physician, fl_only_physician, unlicensed_physician, ops_admin
):
    flag = approved_with_questionnaire_flag(patient, physician)
    assert ids(queue(physician.user)) == []  # not in the intake queue...
    response = flag_list(fl_only_physician.user)  # ...but listed here
    assert response.status_code == 200, response.json()
    assert response.json()["results"] == [
        {
            "id": str(flag.public_id),
            "kind": "self_harm_thoughts",
            "source": "questionnaire",
            "raised_at": response.json()["results"][0]["raised_at"],
            "patient_id": str(patient.patient.public_id),
            "patient_name": f"{patient.patient.legal_first_name} {patient.patient.legal_last_name}",
            "state": "FL",
        }
    ]
    read = AuditEvent.objects.get(action="read", object_type="patients.safetyflag")
    assert (read.object_id, read.patient_id, read.actor_id) == (
        str(flag.public_id),
        patient.patient.public_id,
        fl_only_physician.user_id,
    )
    assert flag_list(unlicensed_physician.user).json()["results"] == []
    assert flag_list(ops_admin).status_code == 403
    assert flag_list(patient).status_code == 403

    detail = client_for(fl_only_physician.user).get(f"/api/review/safety-flags/{flag.public_id}")
    assert detail.status_code == 200
    assert (detail.json()["source"], detail.json()["resolved_at"]) == ("questionnaire", None)
    outside = client_for(unlicensed_physician.user).get(
        f"/api/review/safety-flags/{flag.public_id}"
    )
    assert outside.status_code == 404
    for user in (ops_admin, patient):
        assert client_for(user).get(f"/api/review/safety-flags/{flag.public_id}").status_code == 403


def test_flag_list_is_open_flags_oldest_first_and_detail_shows_the_resolution(
    physician, other_patient, fl_only_physician
):
    first, second = (PatientFactory().user for _ in range(2))
    newer = approved_with_questionnaire_flag(first, physician)
    older = approved_with_questionnaire_flag(second, physician)
    SafetyFlag.objects.filter(pk=older.pk).update(raised_at=timezone.now() - dt.timedelta(days=2))
    nj = approved_with_questionnaire_flag(other_patient, physician)  # New Jersey
    expected = [str(f.public_id) for f in (older, newer, nj)]
    assert ids(flag_list(physician.user)) == expected
    assert str(nj.public_id) not in ids(flag_list(fl_only_physician.user))

    client = client_for(physician.user)
    url = f"/api/review/safety-flags/{older.public_id}"
    resolved = client.post(f"{url}/resolve", {"note": "Safety plan agreed."}, format="json")
    assert resolved.status_code == 200
    assert str(older.public_id) not in ids(flag_list(physician.user))  # open flags only
    detail = client.get(url).json()
    assert detail["resolution_note"] == "Safety plan agreed."
    assert detail["resolved_by"] == str(physician.user.public_id)
    assert detail["resolved_at"] is not None
    assert detail["patient_id"] == str(second.patient.public_id)


def test_flag_list_runs_fixed_queries_and_audits_in_one_insert(physician):
    for _ in range(2):
        approved_with_questionnaire_flag(PatientFactory().user, physician)
    with CaptureQueriesContext(connection) as few:
        assert len(flag_list(physician.user).json()["results"]) == 2
    for _ in range(6):
        approved_with_questionnaire_flag(PatientFactory().user, physician)
    with CaptureQueriesContext(connection) as many:
        assert len(flag_list(physician.user).json()["results"]) == 8
    assert len(many) == len(few)
    audit_inserts = [q for q in many.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(audit_inserts) == 1


def test_the_queue_audits_each_open_flag_it_shows(physician):
    flagged = PatientFactory().user
    submitted_intake(flagged, complete_answers(**SELF_HARM))
    submitted_intake(PatientFactory().user)
    assert queue(physician.user).status_code == 200
    flag = SafetyFlag.objects.get()
    reads = AuditEvent.objects.filter(action="read", object_type="patients.safetyflag")
    assert [(r.object_id, r.patient_id, r.actor_id) for r in reads] == [
        (str(flag.public_id), flagged.patient.public_id, physician.user.pk)
    ]
    assert AuditEvent.objects.filter(action="read", object_type="patients.intake").count() == 2


@pytest.mark.parametrize("page", ["461168601842738792", "10000000000000000000"])
def test_a_page_number_beyond_any_offset_is_404(physician, page):
    submitted_intake(PatientFactory().user)
    assert queue(physician.user, f"?page={page}").status_code == 404


def test_the_queue_works_with_client_side_binding(physician):
    """DB_SERVER_SIDE_BINDING off (behind PgBouncer): psycopg's client-side cursor."""
    from django.db.backends.postgresql.base import Cursor as ClientSideCursor

    intake = submitted_intake(PatientFactory().user)
    connection.ensure_connection()
    raw = connection.connection
    server_side, raw.cursor_factory = raw.cursor_factory, ClientSideCursor
    try:
        response = queue(physician.user)
    finally:
        raw.cursor_factory = server_side
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(intake.public_id)]

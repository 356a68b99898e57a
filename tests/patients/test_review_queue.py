"""The physician review queue: license scoping, what awaits review, order (flagged first,
then oldest), the outcome column, state and flag filters, fixed query count, paging like
page-number pagination, one audit insert per page, and the hand-written page agreeing
with the queue queryset."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from core.clock import practice_today
from patients.models import Intake, IntakeReview, SafetyFlag
from patients.selectors.intake import intake_screening
from patients.selectors.review import review_queue
from patients.selectors.review_queue import review_queue_page_audited
from patients.services.intake import intake_save_draft
from tests.actors import client_for
from tests.factories import LicenseFactory, PatientFactory, PhysicianFactory
from tests.patients import support_review
from tests.patients.support import complete_intake_answers, submitted_intake, with_condition
from tests.patients.support_review import (
    SELF_HARM,
    act,
    ids,
    queue,
    set_submitted_at,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fl_only_physician() -> Any:
    return support_review.fl_only_physician()


# --- the queue ---------------------------------------------------------------------------


def test_queue_is_scoped_by_license(
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
    c = submitted_intake(newest_flagged, complete_intake_answers(**SELF_HARM))
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
        submitted_intake(PatientFactory().user, complete_intake_answers(**SELF_HARM))
    client = client_for(physician.user)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get("/api/review/intakes").json()["results"]) == 3
    for _ in range(22):
        submitted_intake(PatientFactory().user, complete_intake_answers(**SELF_HARM))
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
        answers = complete_intake_answers(**SELF_HARM) if n % 3 == 0 else None  # some rows flagged
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
    flagged = [
        submitted_intake(user, complete_intake_answers(**SELF_HARM)) for user in (fl[4], nj[2])
    ]
    resolved = submitted_intake(fl[5], complete_intake_answers(**SELF_HARM))
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
            page = review_queue_page_audited(
                viewer, offset=0, limit=50, state=state, flagged=only_flagged
            )
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
                middle = review_queue_page_audited(viewer, offset=1, limit=2, state=state)
                if only_flagged is None:
                    assert [r.public_id for r in middle.rows] == [i.public_id for i in want[1:3]]
                    assert middle.total == len(want)
    everyone = review_queue_page_audited(physician.user, offset=0, limit=50)
    assert {r.public_id for r in everyone.rows} == {
        i.public_id for i in [answered, intakes[3], *intakes[4:], *flagged, resolved]
    }
    assert {r.public_id for r in everyone.rows[:2]} == {i.public_id for i in flagged}


def test_the_queue_audits_each_open_flag_it_shows(physician):
    flagged = PatientFactory().user
    submitted_intake(flagged, complete_intake_answers(**SELF_HARM))
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

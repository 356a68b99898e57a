"""Safety flags for physicians: resolved only by a physician licensed in the patient's
state, the open-flag list (any source, oldest first, fixed queries, one audit insert) and
one flag with its resolution."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from patients.models import SafetyFlag
from tests.actors import client_for
from tests.factories import PatientFactory
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


def test_flags_are_resolved_only_by_physicians_licensed_in_the_state(
    other_patient, fl_only_physician, ops_admin
):
    submitted_intake(other_patient, complete_intake_answers(**SELF_HARM))  # New Jersey
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

"""Who may use physician review: physicians only (anonymous 401; patients and ops admins
403, and nothing clinical leaks in the refusal)."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from patients.models import Intake, IntakeReview, IntakeStatus, SafetyFlag
from tests.actors import client_for
from tests.patients.support import complete_intake_answers, submitted_intake
from tests.patients.support_review import (
    SELF_HARM,
)

pytestmark = pytest.mark.django_db


# --- who may use review ----------------------------------------------------------------


def test_only_physicians_reach_review(api, patient, ops_admin):
    intake = submitted_intake(patient, complete_intake_answers(**SELF_HARM))
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

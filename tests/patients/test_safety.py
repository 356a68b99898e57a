"""Safety flags: every path that raises one (a claimed assessment, a submitted intake,
PHQ-9 item 9 on a questionnaire) raises the same flag, alert and audit event."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from audit.models import AuditEvent
from notifications.models import Message
from patients.assessment_questions import HARD_STOP_CONDITIONS, AssessmentAnswers
from patients.models import SafetyFlag
from patients.services.assessment import assessment_claim, assessment_submit
from patients.services.intake import intake_save_draft, intake_submit
from patients.services.measurement import questionnaire_submit
from tests.patients.support import complete_intake_answers

pytestmark = pytest.mark.django_db

PHQ9_ITEM9 = [2, 2, 1, 1, 1, 2, 1, 2, 1]  # item 9 above 0


def from_assessment(user: Any) -> str:
    answers = AssessmentAnswers(
        state="FL",
        date_of_birth=date(1988, 4, 2),
        conditions=dict.fromkeys(HARD_STOP_CONDITIONS, False),
        pregnant_or_breastfeeding=False,
        suicidal_intent_or_plan=True,
        phq9=PHQ9_ITEM9,
        gad7=[1, 1, 1, 0, 0, 0, 0],
    )
    result = assessment_submit(answers=answers, lead=None, today=date(2026, 12, 1))
    assert result.claim_token is not None
    assessment_claim(user=user, claim_token=result.claim_token)
    return "assessment"


def from_intake(user: Any) -> str:
    intake_save_draft(patient=user.patient, answers=complete_intake_answers(phq9=PHQ9_ITEM9))
    intake_submit(patient=user.patient)
    return "intake"


def from_questionnaire(user: Any) -> str:
    questionnaire_submit(patient=user.patient, instrument="phq9", answers=PHQ9_ITEM9)
    return "questionnaire"


@pytest.mark.parametrize("raise_flag", [from_assessment, from_intake, from_questionnaire])
def test_each_path_raises_the_same_flag_alert_and_audit_event(raise_flag, patient, physician):
    source = raise_flag(patient)

    flag = SafetyFlag.objects.get()
    assert (flag.patient, flag.source, flag.resolved_at) == (patient.patient, source, None)
    alert = Message.objects.get(template_key="review_alert")
    assert (alert.recipient_id, alert.channel, alert.category, alert.urgent) == (
        physician.user_id,
        "email",
        "care",
        True,
    )
    assert alert.dedupe_key == f"safety:{flag.public_id}:{physician.user_id}"
    assert alert.context == {"path": f"/review/safety-flags/{flag.public_id}"}
    event = AuditEvent.objects.get(object_type="patients.safetyflag", action="create")
    assert (event.object_id, event.patient_id, event.actor_id) == (
        str(flag.public_id),
        patient.patient.public_id,
        patient.pk,
    )
    assert event.detail == {"source": source}  # never the kind: it is clinical

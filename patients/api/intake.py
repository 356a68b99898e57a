"""Intake, patient side: the questionnaire, my intake (save a draft, come back), submit,
and answer a physician's question."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses
from core.errors import NotFound
from core.text import PlainTextField
from patients import screening
from patients.intake_screening import answers_show_self_harm_risk
from patients.models import Intake, IntakeReview, IntakeStatus, ReviewAction
from patients.questionnaire import QUESTIONNAIRE
from patients.selectors.intake import intake_answers, intake_screening
from patients.selectors.own_record import own_record, patient_of
from patients.selectors.review import intake_current
from patients.services import intake as services

# --- input -------------------------------------------------------------------------------


class IntakeDraftIn(StrictSerializer):
    answers = serializers.JSONField(
        help_text="Answers by section (see GET /api/intake/questionnaire). Sections given "
        "replace the saved ones, a section given as null is cleared, sections left out are "
        "kept. Lists may be short or hold nulls in a draft. `cssrs.lifetime_behavior` is "
        "also accepted under its former spelling `lifetime_behaviour` (saved as the new one)."
    )


class IntakeSubmitIn(StrictSerializer):
    """No fields: the saved draft is submitted."""


class IntakeQuestionAnswerIn(StrictSerializer):
    review_id = serializers.UUIDField(help_text="The question's id (pending_questions[].id).")
    answer = PlainTextField(multiline=True, max_length=4000)


# --- output ------------------------------------------------------------------------------


OUTCOMES = (screening.NOT_ELIGIBLE, screening.NEEDS_REVIEW, screening.ELIGIBLE_PENDING_REVIEW)


class ScreeningReasonOut(serializers.Serializer):
    code = serializers.CharField()
    kind = enum_field(["hard_stop", "review", "info"])
    message = serializers.CharField(help_text="Wording the patient can read.")


class PatientScreeningOut(serializers.Serializer):
    outcome = enum_field(OUTCOMES, help_text="Preliminary: a physician makes the decision.")
    ruleset_version = serializers.CharField()
    reasons = ScreeningReasonOut(many=True)


class QuestionOut(serializers.Serializer):
    id = serializers.UUIDField(help_text="Send it back as review_id to answer.")
    question = serializers.CharField()
    asked_at = serializers.DateTimeField()
    answer = serializers.CharField(allow_blank=True)
    answered_at = serializers.DateTimeField(allow_null=True)


class DecisionOut(serializers.Serializer):
    action = enum_field([ReviewAction.APPROVE, ReviewAction.DECLINE])
    reason = serializers.CharField(allow_blank=True, help_text="The physician's decline reason.")
    decided_at = serializers.DateTimeField()


class IntakeOut(serializers.Serializer):
    id = serializers.UUIDField()
    questionnaire_version = serializers.CharField()
    status = enum_field(IntakeStatus.values)
    editable = serializers.BooleanField(
        help_text="Whether PUT /api/intake may change answers (only a draft: submitted "
        "answers are frozen)."
    )
    answers = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    screening = PatientScreeningOut(allow_null=True)
    pending_questions = QuestionOut(many=True, help_text="A physician's questions to answer.")
    questions = QuestionOut(many=True, help_text="Every question asked, answered or not.")
    decision = DecisionOut(allow_null=True)
    crisis_resources = serializers.CharField(
        allow_null=True,
        help_text="Shown whenever the answers show a risk of self-harm: from the screening "
        "once submitted, from the answers given so far while a draft.",
    )


class QuestionnaireOut(serializers.Serializer):
    version = serializers.CharField()
    sections = serializers.ListField(child=serializers.DictField())


def _reviews_of(intake: Intake) -> list[IntakeReview]:
    prefetched = getattr(intake, "review_list", None)
    if prefetched is not None:
        return list(prefetched)
    return list(intake.reviews.order_by("created_at", "id"))


def _question(review: IntakeReview) -> dict[str, Any]:
    return {
        "id": review.public_id,
        "question": review.note,
        "asked_at": review.created_at,
        "answer": review.patient_answer,
        "answered_at": review.answered_at,
    }


def intake_out(intake: Intake) -> dict[str, Any]:
    reviews = _reviews_of(intake)
    questions = [_question(r) for r in reviews if r.action == ReviewAction.REQUEST_INFO]
    decided = [r for r in reviews if r.action in (ReviewAction.APPROVE, ReviewAction.DECLINE)]
    closed = intake.status in (IntakeStatus.APPROVED, IntakeStatus.DECLINED)
    final = decided[-1] if decided and closed else None
    stored = intake_screening(intake)
    answers = intake_answers(intake)
    # A draft raises no flag until submission, but the crisis resources are shown now.
    crisis = bool(stored.get("urgent_safety")) if stored else answers_show_self_harm_risk(answers)
    data = {
        "id": intake.public_id,
        "questionnaire_version": intake.questionnaire_version,
        "status": intake.status,
        "editable": intake.status == IntakeStatus.DRAFT,
        "answers": answers,
        "created_at": intake.created_at,
        "updated_at": intake.updated_at,
        "submitted_at": intake.submitted_at,
        "decided_at": intake.decided_at,
        "screening": (
            {k: stored[k] for k in ("outcome", "ruleset_version", "reasons")} if stored else None
        ),
        "pending_questions": [q for q in questions if q["answered_at"] is None],
        "questions": questions,
        "decision": (
            {
                "action": final.action,
                "reason": final.note if final.action == ReviewAction.DECLINE else "",
                "decided_at": final.created_at,
            }
            if final
            else None
        ),
        "crisis_resources": screening.CRISIS_RESOURCES if crisis else None,
    }
    return IntakeOut(data).data


# --- views -------------------------------------------------------------------------------


class QuestionnaireView(APIView):
    @extend_schema(
        responses={200: QuestionnaireOut, **error_responses(401, 403)},
        summary="The intake questionnaire: its version and sections, as data for the form",
    )
    def get(self, request: Request) -> Response:
        return Response(QUESTIONNAIRE.describe())


class MyIntakeView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: IntakeOut, **error_responses(401, 403, 404)},
        summary="My current intake (the open one, else the latest), with pending questions",
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        patient = patient_of(user)
        intake = intake_current(patient) if patient else None
        if intake is None:
            raise NotFound("No intake yet.", code="no_intake")
        audit_phi_read(actor=user, objects=[intake])
        return Response(intake_out(intake))

    @extend_schema(
        request=IntakeDraftIn,
        responses={200: IntakeOut, **error_responses(400, 401, 403, 409)},
        summary="Save my intake draft (partial answers allowed; starts one if none is open)",
        description="Allowed only while the intake is a draft: once submitted the answers "
        "are frozen (a physician's question is answered with POST /api/intake/answer). "
        "After a decline a new intake starts. Each invalid answer is a field error named by "
        "its path, e.g. `answers.phq9.3`. Answers so far showing a risk of self-harm return "
        "`crisis_resources`. 409 `intake_not_editable` once submitted or approved; "
        "409 `no_record` without a patient record.",
    )
    def put(self, request: Request) -> Response:
        data = IntakeDraftIn(data=request.data)
        data.is_valid(raise_exception=True)
        intake = services.intake_save_draft(
            patient=own_record(user_of(request)), answers=data.validated_data["answers"]
        )
        return Response(intake_out(intake))


class IntakeSubmitView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=IntakeSubmitIn,
        responses={200: IntakeOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Submit my intake for physician review",
        description="Every section is required; each missing or invalid answer is named. "
        "The answers are scored and screened; the intake then waits for a physician, "
        "whatever the screening outcome. Answers showing a risk of self-harm return "
        "`crisis_resources`. 409 `intake_not_editable` when already submitted.",
    )
    def post(self, request: Request) -> Response:
        IntakeSubmitIn(data=request.data).is_valid(raise_exception=True)
        intake = services.intake_submit(patient=own_record(user_of(request)))
        return Response(intake_out(intake))


class IntakeAnswerView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=IntakeQuestionAnswerIn,
        responses={200: IntakeOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Answer a physician's question about my intake",
        description="Once every question is answered the intake goes back to the review "
        "queue. The answer is text: the submitted answers and their screening do not "
        "change.",
    )
    def post(self, request: Request) -> Response:
        data = IntakeQuestionAnswerIn(data=request.data)
        data.is_valid(raise_exception=True)
        intake = services.intake_answer_question(
            patient=own_record(user_of(request)),
            review_id=data.validated_data["review_id"],
            answer=data.validated_data["answer"],
        )
        return Response(intake_out(intake))


urlpatterns: list[URLPattern] = [
    path("intake", MyIntakeView.as_view(), name="intake-mine"),
    path("intake/questionnaire", QuestionnaireView.as_view(), name="intake-questionnaire"),
    path("intake/submit", IntakeSubmitView.as_view(), name="intake-submit"),
    path("intake/answer", IntakeAnswerView.as_view(), name="intake-answer"),
]

"""Physician review of one intake: read it in full, and decide (approve, decline, request
information).

Physicians only (ops admins and patients get 403); a physician reaches intakes of
patients in the states where they hold an active license, anything else is 404. Every
read of an intake, patient, review or flag is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses
from core.clock import practice_today
from core.text import PlainTextField
from patients.api.intake import OUTCOMES, ScreeningReasonOut
from patients.api.review_flags import FlagOut
from patients.models import IntakeReview, IntakeStatus, ReviewAction, SafetyFlag
from patients.selectors import review as selectors
from patients.selectors.intake import intake_answers, intake_screening
from patients.services import review as services
from patients.validators import age_on

# --- output ------------------------------------------------------------------------------


class ScreeningOut(serializers.Serializer):
    outcome = enum_field(OUTCOMES)
    ruleset_version = serializers.CharField()
    reasons = ScreeningReasonOut(many=True)
    urgent_safety = serializers.BooleanField()
    scores = serializers.JSONField(
        help_text="phq9, gad7, audit_c, dast10 (total, band...), cssrs (risk...), bmi."
    )


class ReviewOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    action = enum_field(ReviewAction.values)
    physician_id = serializers.UUIDField(source="physician.user.public_id")
    physician_name = serializers.CharField(source="physician.__str__")
    note = serializers.CharField(
        allow_blank=True, help_text="Decline reason or question (the patient sees both)."
    )
    patient_answer = serializers.CharField(allow_blank=True)
    answered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class PatientSummaryOut(serializers.Serializer):
    id = serializers.UUIDField()
    legal_first_name = serializers.CharField()
    legal_last_name = serializers.CharField()
    date_of_birth = serializers.DateField(allow_null=True)
    age = serializers.IntegerField(allow_null=True)
    sex_at_birth = serializers.CharField()
    state = serializers.CharField()
    county = serializers.CharField()
    time_zone = serializers.CharField()


class OtherIntakeOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = enum_field(IntakeStatus.values)
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class ReviewIntakeOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = enum_field(IntakeStatus.values)
    awaiting_review = serializers.BooleanField()
    questionnaire_version = serializers.CharField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    answers = serializers.JSONField()
    screening = ScreeningOut(allow_null=True)
    safety_flags = FlagOut(many=True, help_text="The patient's flags, open and resolved.")
    reviews = ReviewOut(many=True)
    patient = PatientSummaryOut()
    other_intakes = OtherIntakeOut(many=True)


class ReviewDecisionOut(serializers.Serializer):
    intake_id = serializers.UUIDField()
    status = enum_field(IntakeStatus.values)
    decided_at = serializers.DateTimeField()
    review = ReviewOut()


# --- input -------------------------------------------------------------------------------


class ApproveIn(StrictSerializer):
    note = PlainTextField(multiline=True, max_length=4000, required=False, allow_blank=True)


class DeclineIn(StrictSerializer):
    reason = PlainTextField(multiline=True, max_length=4000, help_text="Shown to the patient.")


class RequestInfoIn(StrictSerializer):
    question = PlainTextField(multiline=True, max_length=4000, help_text="Shown to the patient.")


# --- one intake ----------------------------------------------------------------------------


def _screening_out(intake: Any) -> dict[str, Any] | None:
    stored = intake_screening(intake)
    if stored is None:
        return None
    keys = ("outcome", "ruleset_version", "reasons", "urgent_safety", "scores")
    return {key: stored.get(key) for key in keys}


class ReviewIntakeView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        responses={200: ReviewIntakeOut, **error_responses(401, 403, 404)},
        summary="One intake in full: answers, scores, screening reasons, safety flags, "
        "review history and the patient's record summary",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        intake = selectors.reviewable_intake(viewer, public_id)
        patient = intake.patient
        reviews: list[IntakeReview] = list(getattr(intake, "review_list", []))
        flags: list[SafetyFlag] = list(getattr(patient, "flag_list", []))
        others = list(selectors.other_intakes(intake))
        born: Any = patient.date_of_birth
        data = {
            "id": intake.public_id,
            "status": intake.status,
            "awaiting_review": selectors.intake_awaiting_review(intake),
            "questionnaire_version": intake.questionnaire_version,
            "created_at": intake.created_at,
            "submitted_at": intake.submitted_at,
            "decided_at": intake.decided_at,
            "answers": intake_answers(intake),
            "screening": _screening_out(intake),
            "safety_flags": flags,
            "reviews": reviews,
            "patient": {
                "id": patient.public_id,
                "legal_first_name": patient.legal_first_name,
                "legal_last_name": patient.legal_last_name,
                "date_of_birth": born,
                "age": age_on(born, practice_today()) if born else None,
                "sex_at_birth": patient.sex_at_birth,
                "state": patient.state,
                "county": patient.county,
                "time_zone": patient.time_zone,
            },
            "other_intakes": others,
        }
        audit_phi_read(
            actor=viewer,
            objects=[intake, patient, *reviews, *flags, *others],
            patient_id_of=lambda _obj: patient.public_id,
        )
        return Response(ReviewIntakeOut(data).data)


# --- decisions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One of the decisions a physician takes on an intake, as its URL offers it."""

    action: ReviewAction
    body: type[StrictSerializer]
    note_field: str  # the body field recorded as the review's note
    summary: str
    description: str = ""


DECISIONS = {
    "approve": Decision(
        ReviewAction.APPROVE,
        ApproveIn,
        "note",
        summary="Approve an intake",
        description="409 `intake_not_awaiting_review`, `safety_flag_open` (resolve the "
        "patient's open safety flags first) or `screening_not_eligible` (a hard stop).",
    ),
    "decline": Decision(
        ReviewAction.DECLINE,
        DeclineIn,
        "reason",
        summary="Decline an intake, with a reason the patient sees",
    ),
    "request-info": Decision(
        ReviewAction.REQUEST_INFO,
        RequestInfoIn,
        "question",
        summary="Ask the patient for more information",
        description="The patient sees the question in GET /api/intake and answers with "
        "POST /api/intake/answer; the intake then returns to the queue.",
    ),
}


# POST one decision on an intake; `decision` is set per URL by decision_view(). (No
# docstring: drf-spectacular would publish it as the description of every decision.)
class IntakeDecisionView(APIView):
    permission_classes = [IsPhysician]
    decision: Decision

    def post(self, request: Request, public_id: str) -> Response:
        data = self.decision.body(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.intake_review_decide(
            physician_user=user_of(request),
            intake_id=public_id,
            action=self.decision.action,
            note=data.validated_data.get(self.decision.note_field, ""),
        )
        intake = review.intake
        return Response(
            ReviewDecisionOut(
                {
                    "intake_id": intake.public_id,
                    "status": intake.status,
                    "decided_at": intake.decided_at,
                    "review": review,
                }
            ).data
        )


def decision_view(decision: Decision) -> type[IntakeDecisionView]:
    """IntakeDecisionView for one decision, documented with that decision's request body."""
    name = "".join(part.title() for part in decision.action.split("_")) + "DecisionView"
    view = type(name, (IntakeDecisionView,), {"decision": decision})
    schema = extend_schema(
        request=decision.body,
        responses={200: ReviewDecisionOut, **error_responses(400, 401, 403, 404, 409)},
        summary=decision.summary,
        description=decision.description or None,
    )
    return extend_schema_view(post=schema)(view)


urlpatterns: list[URLPattern] = [
    path("review/intakes/<uuid:public_id>", ReviewIntakeView.as_view(), name="review-intake"),
    *(
        path(
            f"review/intakes/<uuid:public_id>/{slug}",
            decision_view(decision).as_view(),
            name=f"review-{slug}",
        )
        for slug, decision in DECISIONS.items()
    ),
]

"""Physician review: the queue of submitted intakes, one intake in full, the decisions
(approve, decline, request information) and resolving safety flags.

Physicians only (ops admins and patients get 403); a physician sees and acts on intakes of
patients in the states where they hold an active licence, anything else is 404. Every
read of an intake, patient, review or flag is audited."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import django_filters
from django.urls import URLPattern, path
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.models import State
from accounts.permissions import IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import Pagination, StrictSerializer, enum_field, error_responses
from core.clock import practice_today
from patients.api.intake import OUTCOMES, ScreeningReasonOut
from patients.models import Intake, IntakeReview, IntakeStatus, ReviewAction, SafetyFlag
from patients.selectors import review as selectors
from patients.selectors.intake import intake_answers, intake_screening
from patients.services import review as services
from patients.services.safety import safety_flag_resolve
from patients.validators import age_on

MAX_OFFSET = 2**63 - 1

# --- output ------------------------------------------------------------------------------


class FlagBriefOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.CharField(help_text="The screening reason that raised it.")
    raised_at = serializers.DateTimeField()


class FlagOut(FlagBriefOut):
    source_id = serializers.UUIDField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolved_by = serializers.UUIDField(source="resolved_by.public_id", allow_null=True)
    resolution_note = serializers.CharField(allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: a class attribute named `source` would shadow Field.source.
        fields = super().get_fields()
        fields["source"] = serializers.CharField(help_text="intake, questionnaire, assessment")
        return fields


class SafetyFlagRowOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField(help_text="The screening reason that raised it.")
    raised_at = serializers.DateTimeField()
    patient_id = serializers.UUIDField()
    patient_name = serializers.CharField()
    state = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: a class attribute named `source` would shadow Field.source.
        fields = super().get_fields()
        fields["source"] = serializers.CharField(help_text="intake, questionnaire, assessment")
        return fields


class SafetyFlagDetailOut(FlagOut):
    patient_id = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.SerializerMethodField()
    state = serializers.CharField(source="patient.state")

    def get_patient_name(self, flag: SafetyFlag) -> str:
        patient = flag.patient
        return f"{patient.legal_first_name} {patient.legal_last_name}".strip()


class QueueRowOut(serializers.Serializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    patient_name = serializers.CharField()
    state = serializers.CharField()
    status = enum_field(IntakeStatus.values)
    submitted_at = serializers.DateTimeField()
    outcome = enum_field(OUTCOMES, allow_null=True, help_text="Screening outcome.")
    open_safety_flags = FlagBriefOut(many=True)


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
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True)


class DeclineIn(StrictSerializer):
    reason = serializers.CharField(max_length=4000, help_text="Shown to the patient.")


class RequestInfoIn(StrictSerializer):
    question = serializers.CharField(max_length=4000, help_text="Shown to the patient.")


class ResolveFlagIn(StrictSerializer):
    note = serializers.CharField(max_length=4000)


# --- the queue ---------------------------------------------------------------------------


class ReviewQueuePagination(Pagination):
    page_size = 20

    def size(self, request: Request) -> int:
        return self.get_page_size(request) or self.page_size

    def page_number(self, request: Request, count: Callable[[], int]) -> int:
        """The requested page as PageNumberPagination reads it ("last" asks `count`);
        404 for anything but a positive integer."""
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return max(1, math.ceil(count() / self.size(request)))
        try:
            number = int(raw)
        except ValueError:
            number = 0
        # Past the largest OFFSET PostgreSQL takes, no page can have rows.
        if number < 1 or (number - 1) * self.size(request) > MAX_OFFSET:
            raise exceptions.NotFound(self.invalid_page_message)
        return number

    def counted_response(
        self, request: Request, results: list[Any], *, number: int, total: int
    ) -> Response:
        """The response of get_paginated_response for a page read with its total (no
        separate count query): the same count, next and previous links."""
        url = request.build_absolute_uri()
        has_next = number * self.size(request) < total
        previous = None
        if number == 2:
            previous = remove_query_param(url, self.page_query_param)
        elif number > 2:
            previous = replace_query_param(url, self.page_query_param, number - 1)
        return Response(
            {
                "count": total,
                "next": replace_query_param(url, self.page_query_param, number + 1)
                if has_next
                else None,
                "previous": previous,
                "results": results,
            }
        )


class ReviewQueueFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(field_name="patient__state", choices=State.choices)
    flagged = django_filters.BooleanFilter(
        method="filter_flagged", label="Only intakes of patients with an open safety flag"
    )

    class Meta:
        model = Intake
        fields: list[str] = []

    def filter_flagged(self, queryset: Any, name: str, value: bool) -> Any:
        return queryset.filter(has_open_flag=value)  # annotated by selectors.review_queue


def _queue_filters(request: Request) -> tuple[str | None, bool | None]:
    """`state` and `flagged`, validated as DjangoFilterBackend validates them (400)."""
    params = request.query_params
    if "state" not in params and "flagged" not in params:
        return None, None
    filterset = ReviewQueueFilter(data=params, queryset=Intake.objects.none(), request=request)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    data = filterset.form.cleaned_data
    return data.get("state") or None, data.get("flagged")


def _iso(value: datetime | None) -> str | None:
    """A time read from the database (UTC) as the serializers and DRF's JSON encoder
    write it: ISO 8601 with "Z"."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _queue_row(row: selectors.QueueRow) -> dict[str, Any]:
    """QueueRowOut as a plain dict of JSON values (the serializer documents the shape):
    instantiating nested serializers costs more per page than reading it, and so do the
    JSON encoder's callbacks for ids and times (see benchmarks/)."""
    return {
        "id": str(row.public_id),
        "patient_id": str(row.patient_public_id),
        "patient_name": f"{row.patient_first_name} {row.patient_last_name}".strip(),
        "state": row.state,
        "status": row.status,
        "submitted_at": _iso(row.submitted_at),
        "outcome": row.outcome,
        "open_safety_flags": [
            {
                "id": str(flag.public_id),
                "kind": flag.kind,
                "raised_at": _iso(flag.raised_at),
            }
            for flag in row.open_flags
        ],
    }


@extend_schema(
    responses={200: QueueRowOut(many=True), **error_responses(400, 401, 403)},
    summary="Intakes awaiting review in my licensed states: open safety flags first, "
    "then oldest submission first",
)
class ReviewQueueView(generics.ListAPIView):
    permission_classes = [IsPhysician]
    pagination_class = ReviewQueuePagination
    filterset_class = ReviewQueueFilter
    serializer_class = QueueRowOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Intake.objects.none()
        return selectors.review_queue(user_of(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One statement reads the page, its total and its flags and audits every intake
        on it (selectors.review_queue_page: the page of get_queryset())."""
        viewer = user_of(request)
        state, flagged = _queue_filters(request)
        paginator = ReviewQueuePagination()
        size = paginator.size(request)

        def count() -> int:  # only for ?page=last
            return selectors.review_queue_count(viewer, state=state, flagged=flagged)

        number = paginator.page_number(request, count=count)
        page = selectors.review_queue_page(
            viewer, offset=(number - 1) * size, limit=size, state=state, flagged=flagged
        )
        if page.total is None:  # past the last page
            raise exceptions.NotFound(paginator.invalid_page_message)
        return paginator.counted_response(
            request, [_queue_row(row) for row in page.rows], number=number, total=page.total
        )


# --- safety flags ------------------------------------------------------------------------


def _flag_row(flag: SafetyFlag) -> dict[str, Any]:
    patient = flag.patient
    return {
        "id": flag.public_id,
        "kind": flag.kind,
        "source": flag.source,
        "raised_at": flag.raised_at,
        "patient_id": patient.public_id,
        "patient_name": f"{patient.legal_first_name} {patient.legal_last_name}".strip(),
        "state": patient.state,
    }


@extend_schema(
    responses={200: SafetyFlagRowOut(many=True), **error_responses(401, 403)},
    summary="Open safety flags in my licensed states (any source), oldest raised first",
    description="Includes flags raised after approval (follow-up questionnaires), which "
    "never reach the intake queue. Each page is read in a fixed number of queries and "
    "audited with one insert.",
)
class SafetyFlagListView(generics.ListAPIView):
    permission_classes = [IsPhysician]
    pagination_class = ReviewQueuePagination
    serializer_class = SafetyFlagRowOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return SafetyFlag.objects.none()
        return selectors.open_safety_flags_for(user_of(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page: list[SafetyFlag] = self.paginate_queryset(self.get_queryset()) or []
        audit_phi_read(  # one INSERT for the page
            actor=user_of(request), objects=page, patient_id_of=lambda f: f.patient.public_id
        )
        return self.get_paginated_response(
            SafetyFlagRowOut([_flag_row(f) for f in page], many=True).data
        )


class SafetyFlagDetailView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        responses={200: SafetyFlagDetailOut, **error_responses(401, 403, 404)},
        summary="One safety flag, open or resolved, with its resolution",
        description="404 for a flag of a patient outside my licensed states.",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        flag = selectors.reviewable_safety_flag(viewer, public_id)
        audit_phi_read(actor=viewer, objects=[flag], patient_id_of=lambda f: f.patient.public_id)
        return Response(SafetyFlagDetailOut(flag).data)


# --- one intake ----------------------------------------------------------------------------


def _screening_out(intake: Intake) -> dict[str, Any] | None:
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
            "awaiting_review": services.is_awaiting_review(intake),
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


def _decision_out(review: IntakeReview) -> dict[str, Any]:
    intake = review.intake
    return ReviewDecisionOut(
        {
            "intake_id": intake.public_id,
            "status": intake.status,
            "decided_at": intake.decided_at,
            "review": review,
        }
    ).data


_DECISION_ERRORS = error_responses(400, 401, 403, 404, 409)


class ApproveView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=ApproveIn,
        responses={200: ReviewDecisionOut, **_DECISION_ERRORS},
        summary="Approve an intake",
        description="409 `intake_not_awaiting_review`, `safety_flag_open` (resolve the "
        "patient's open safety flags first) or `screening_not_eligible` (a hard stop).",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = ApproveIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.intake_review_decide(
            physician_user=user_of(request),
            intake_id=public_id,
            action=ReviewAction.APPROVE,
            note=data.validated_data.get("note", ""),
        )
        return Response(_decision_out(review))


class DeclineView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=DeclineIn,
        responses={200: ReviewDecisionOut, **_DECISION_ERRORS},
        summary="Decline an intake, with a reason the patient sees",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = DeclineIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.intake_review_decide(
            physician_user=user_of(request),
            intake_id=public_id,
            action=ReviewAction.DECLINE,
            note=data.validated_data["reason"],
        )
        return Response(_decision_out(review))


class RequestInfoView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=RequestInfoIn,
        responses={200: ReviewDecisionOut, **_DECISION_ERRORS},
        summary="Ask the patient for more information",
        description="The patient sees the question in GET /api/intake and answers with "
        "POST /api/intake/answer; the intake then returns to the queue.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = RequestInfoIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.intake_review_decide(
            physician_user=user_of(request),
            intake_id=public_id,
            action=ReviewAction.REQUEST_INFO,
            note=data.validated_data["question"],
        )
        return Response(_decision_out(review))


class ResolveSafetyFlagView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=ResolveFlagIn,
        responses={200: FlagOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Resolve a patient's safety flag (physician licensed in their state)",
        description="409 `safety_flag_resolved` when already resolved.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = ResolveFlagIn(data=request.data)
        data.is_valid(raise_exception=True)
        flag = safety_flag_resolve(
            physician_user=user_of(request), flag_id=public_id, note=data.validated_data["note"]
        )
        return Response(FlagOut(flag).data)


urlpatterns: list[URLPattern] = [
    path("review/intakes", ReviewQueueView.as_view(), name="review-queue"),
    path("review/intakes/<uuid:public_id>", ReviewIntakeView.as_view(), name="review-intake"),
    path("review/intakes/<uuid:public_id>/approve", ApproveView.as_view(), name="review-approve"),
    path("review/intakes/<uuid:public_id>/decline", DeclineView.as_view(), name="review-decline"),
    path(
        "review/intakes/<uuid:public_id>/request-info",
        RequestInfoView.as_view(),
        name="review-request-info",
    ),
    path("review/safety-flags", SafetyFlagListView.as_view(), name="review-safety-flags"),
    path(
        "review/safety-flags/<uuid:public_id>",
        SafetyFlagDetailView.as_view(),
        name="review-safety-flag",
    ),
    path(
        "review/safety-flags/<uuid:public_id>/resolve",
        ResolveSafetyFlagView.as_view(),
        name="review-resolve-flag",
    ),
]

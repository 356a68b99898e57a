"""Physician review: safety flags (any source), listed, read and resolved.

Physicians only (ops admins and patients get 403); a physician reaches flags of patients
in the states where they hold an active license, anything else is 404. Every read is
audited."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, error_responses
from core.text import PlainTextField
from patients.models import SafetyFlag
from patients.selectors import review as selectors
from patients.services.safety import safety_flag_resolve


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


class ResolveFlagIn(StrictSerializer):
    note = PlainTextField(multiline=True, max_length=4000)


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

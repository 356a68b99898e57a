"""The video visit: join its room, start it, complete it.

* `GET appointments/<id>/join`: the visit's patient or physician (anyone else 404) gets
  their own join link while the room is open.
* `POST appointments/<id>/start`, `POST appointments/<id>/complete`: the visit's physician
  only (other physicians 404; patients and ops admins 403).

Video provider trouble answers 503 (`video_unavailable`, retry after Retry-After; or
`video_provider_error` when the provider refused us, which the team is told about),
never a 500 and never a 502."""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAuthenticatedWithMfa, IsPhysician, user_of
from core.api import ErrorSerializer, StrictSerializer, enum_field, error_responses
from core.text import PlainTextField
from scheduling.models import Appointment, AppointmentStatus
from scheduling.selectors.appointments import appointment_visible_to
from scheduling.selectors.visits import (
    prescribing_blocked_by,
    visit_of_participant,
)
from scheduling.services.visits import US_STATE_CODES, visit_complete, visit_join, visit_start

VIDEO_UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="The video provider is unavailable (`video_unavailable`: retry after the "
    "Retry-After header) or refused our request (`video_provider_error`: the team is told).",
)


class JoinOut(serializers.Serializer):
    url = serializers.URLField(help_text="This participant's own link; do not share it.")
    expires_at = serializers.DateTimeField()
    role = enum_field(("patient", "physician"))
    room_opens_at = serializers.DateTimeField()
    room_closes_at = serializers.DateTimeField()


class VisitOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = enum_field(AppointmentStatus.values)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    confirmed_state = serializers.CharField(allow_blank=True)
    video_visit = serializers.BooleanField()
    standard_of_care_attested = serializers.BooleanField()
    prescribing_blocked_by = serializers.SerializerMethodField(
        help_text="Why this visit cannot lead to a prescription even once completed "
        "(`patient_outside_practice_states`, `physician_not_licensed_in_state`: e.g. a "
        "license that lapsed after booking); empty when nothing beyond completing it."
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_prescribing_blocked_by(self, visit: Appointment) -> list[str]:
        return list(prescribing_blocked_by(visit))


class StartIn(StrictSerializer):
    confirmed_state = serializers.ChoiceField(
        choices=US_STATE_CODES,
        help_text="Where the patient says they are now (USPS code). Outside FL and NJ the "
        "visit can go ahead but cannot lead to a prescription.",
    )


class CompleteIn(StrictSerializer):
    note = PlainTextField(multiline=True, max_length=20000, help_text="Encrypted at rest.")
    standard_of_care_attested = serializers.BooleanField(help_text="Must be true.")


class JoinVisitView(APIView):
    permission_classes = [IsAuthenticatedWithMfa]

    @extend_schema(
        responses={200: JoinOut, **error_responses(401, 403, 404, 409), 503: VIDEO_UNAVAILABLE},
        summary="My join link for a video visit (its patient or physician)",
        description="Only while the room is open: from VIDEO_ROOM_OPENS_BEFORE (10 min) before "
        "the start to VIDEO_ROOM_CLOSES_AFTER (30 min) after the end; 409 `room_not_open`, "
        "`room_closed`, or `visit_not_active` for a completed, canceled or no-show visit. "
        "The room is made on the first join. Every join is audited.",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        joined = visit_join(appointment=visit_of_participant(viewer, public_id), actor=viewer)
        return Response(
            JoinOut(
                {
                    "url": joined.link.url,
                    "expires_at": joined.link.expires_at,
                    "role": joined.role,
                    "room_opens_at": joined.opens_at,
                    "room_closes_at": joined.closes_at,
                }
            ).data
        )


class StartVisitView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=StartIn,
        responses={200: VisitOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Start a visit (its physician), with the state the patient confirms",
        description="booked -> in_progress, from the room's opening; 409 "
        "`invalid_transition`, `room_not_open` or `room_closed` otherwise.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = StartIn(data=request.data)
        data.is_valid(raise_exception=True)
        physician = user_of(request)
        visit: Appointment = visit_start(
            appointment=appointment_visible_to(physician, public_id),
            actor=physician,
            confirmed_state=data.validated_data["confirmed_state"],
        )
        return Response(VisitOut(visit).data)


class CompleteVisitView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=CompleteIn,
        responses={200: VisitOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Complete a visit (its physician): attestation and visit note",
        description="in_progress -> completed, recorded as a video visit; 400 unless "
        "`standard_of_care_attested` is true; 409 `invalid_transition` otherwise.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = CompleteIn(data=request.data)
        data.is_valid(raise_exception=True)
        physician = user_of(request)
        visit = visit_complete(
            appointment=appointment_visible_to(physician, public_id),
            actor=physician,
            note=data.validated_data["note"],
            standard_of_care_attested=data.validated_data["standard_of_care_attested"],
        )
        return Response(VisitOut(visit).data)


urlpatterns: list[URLPattern] = [
    path("appointments/<uuid:public_id>/join", JoinVisitView.as_view(), name="appointment-join"),
    path(
        "appointments/<uuid:public_id>/start",
        StartVisitView.as_view(),
        name="appointment-start",
    ),
    path(
        "appointments/<uuid:public_id>/complete",
        CompleteVisitView.as_view(),
        name="appointment-complete",
    ),
]

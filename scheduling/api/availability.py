"""A physician's availability, managed by the physician (`physicians/me/...`) or by an ops
admin for any physician (`physicians/<physician id>/...`, the physician's user public id).

The same views serve both: only how the physician is resolved differs. A physician who
names another physician's id gets 404, as does anyone naming an unknown id."""

from __future__ import annotations

from datetime import time
from typing import Any

import django_filters
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import PhysicianProfile
from accounts.permissions import IsPhysician, IsStaff, user_of
from core.api import StrictSerializer, enum_field, error_responses
from core.text import PlainTextField
from scheduling.models import AvailabilityOverride, OverrideKind
from scheduling.selectors import availability as selectors
from scheduling.services.availability import (
    MAX_BUFFER_MINUTES,
    OverrideRequest,
    ScheduleSettings,
    WeeklyWindow,
    availability_override_add,
    availability_override_delete,
    physician_schedule_replace,
)


def whole_minutes(value: time) -> None:
    if value.second or value.microsecond:
        raise serializers.ValidationError("Whole minutes only (HH:MM).")


def _time_field(**kwargs: Any) -> serializers.TimeField:
    return serializers.TimeField(format="%H:%M", validators=[whole_minutes], **kwargs)


class ScheduleProfileIn(StrictSerializer):
    title = PlainTextField(max_length=100, required=False, default="", allow_blank=True)
    board_certification = PlainTextField(
        max_length=200, required=False, default="", allow_blank=True
    )
    languages = serializers.ListField(
        child=serializers.CharField(max_length=3),
        max_length=20,
        required=False,
        default=list,
        help_text='ISO 639 codes, lower case: ["en", "es"].',
    )
    bio = PlainTextField(
        multiline=True, max_length=2000, required=False, default="", allow_blank=True
    )
    photo_url = serializers.URLField(
        max_length=200, required=False, default="", allow_blank=True, help_text="https only."
    )


class WeeklyWindowIn(StrictSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday.")
    start_time = _time_field(help_text="Wall-clock in the schedule's zone, HH:MM.")
    end_time = _time_field(help_text="After start_time, same day.")


class PhysicianScheduleIn(StrictSerializer):
    time_zone = serializers.CharField(max_length=64, help_text="IANA name: America/Chicago.")
    buffer_minutes = serializers.IntegerField(min_value=0, max_value=MAX_BUFFER_MINUTES)
    profile = ScheduleProfileIn(required=False)
    weekly = serializers.ListField(
        child=WeeklyWindowIn(), max_length=100, help_text="Replaces every weekly rule."
    )


class ScheduleProfileOut(serializers.Serializer):
    title = serializers.CharField()
    board_certification = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())
    bio = serializers.CharField()
    photo_url = serializers.CharField()


class WeeklyWindowOut(serializers.Serializer):
    weekday = serializers.IntegerField()
    start_time = serializers.TimeField(format="%H:%M")
    end_time = serializers.TimeField(format="%H:%M")


class PhysicianScheduleOut(serializers.Serializer):
    physician_id = serializers.UUIDField()
    time_zone = serializers.CharField()
    buffer_minutes = serializers.IntegerField()
    profile = ScheduleProfileOut()
    weekly = WeeklyWindowOut(many=True)
    updated_at = serializers.DateTimeField(allow_null=True)


def _schedule_out(view: selectors.ScheduleView) -> dict[str, Any]:
    schedule = view.schedule
    return PhysicianScheduleOut(
        {
            "physician_id": view.physician.user.public_id,
            "time_zone": schedule.time_zone,
            "buffer_minutes": schedule.buffer_minutes,
            "profile": schedule,
            "weekly": view.weekly,
            "updated_at": schedule.updated_at,
        }
    ).data


class AvailabilityOverrideIn(StrictSerializer):
    date = serializers.DateField(help_text="In the physician's zone; today or later.")
    kind = serializers.ChoiceField(choices=OverrideKind.choices)
    start_time = _time_field(
        required=False, allow_null=True, default=None, help_text="Omit both for a whole day."
    )
    end_time = _time_field(required=False, allow_null=True, default=None)


class AvailabilityOverrideOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    date = serializers.DateField()
    kind = enum_field(OverrideKind.values)
    start_time = serializers.TimeField(format="%H:%M", allow_null=True)
    end_time = serializers.TimeField(format="%H:%M", allow_null=True)


class OverrideFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = AvailabilityOverride
        fields: list[str] = []


def physician_in_url(request: Request, kwargs: dict[str, Any]) -> PhysicianProfile:
    """`physicians/<physician_id>/...`: any physician for an ops admin, only oneself for a
    physician (else 404); `physicians/me/...`: the signed-in physician."""
    viewer = user_of(request)
    if "physician_id" in kwargs:
        return selectors.schedule_physician_for(viewer, kwargs["physician_id"])
    return selectors.own_physician(viewer)


class ScheduleView(APIView):
    @extend_schema(
        responses={200: PhysicianScheduleOut, **error_responses(401, 403, 404)},
        summary="A physician's schedule: zone, buffer, public profile and weekly rules",
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        physician = physician_in_url(request, kwargs)
        return Response(_schedule_out(selectors.schedule_of(physician)))

    @extend_schema(
        request=PhysicianScheduleIn,
        responses={200: PhysicianScheduleOut, **error_responses(400, 401, 403, 404)},
        summary="Replace a physician's schedule (the weekly rules sent become the rules)",
        description="All or nothing. 400 names each invalid field: `time_zone` (unknown "
        "zone), `weekly.<i>.end_time` (not after start), `weekly.<i>.start_time` (overlaps "
        "an earlier item of the same weekday), `profile.photo_url` (not https).",
    )
    def put(self, request: Request, **kwargs: Any) -> Response:
        physician = physician_in_url(request, kwargs)
        data = PhysicianScheduleIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        profile = values.get("profile") or {}
        physician_schedule_replace(
            actor=user_of(request),
            physician=physician,
            settings=ScheduleSettings(
                time_zone=values["time_zone"],
                buffer_minutes=values["buffer_minutes"],
                title=profile.get("title", ""),
                board_certification=profile.get("board_certification", ""),
                languages=tuple(code.strip().lower() for code in profile.get("languages", [])),
                bio=profile.get("bio", ""),
                photo_url=profile.get("photo_url", ""),
            ),
            weekly=[WeeklyWindow(**window) for window in values["weekly"]],
        )
        return Response(_schedule_out(selectors.schedule_of(physician)))


class MyScheduleView(ScheduleView):
    permission_classes = [IsPhysician]


class PhysicianScheduleView(ScheduleView):
    permission_classes = [IsStaff]


class OverridesView(generics.ListAPIView):
    serializer_class = AvailabilityOverrideOut
    filterset_class = OverrideFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return AvailabilityOverride.objects.none()
        return selectors.overrides_of(physician_in_url(self.request, self.kwargs))

    @extend_schema(
        responses={200: AvailabilityOverrideOut(many=True), **error_responses(400, 401, 403, 404)},
        summary="A physician's date overrides (time off, extra hours), by date",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AvailabilityOverrideIn,
        responses={201: AvailabilityOverrideOut, **error_responses(400, 401, 403, 404)},
        summary="Add time off (a whole day or a window) or extra hours on one date",
        description="400 on `date` for a past date, on the times when missing or reversed, "
        "on `start_time` for extra hours overlapping others that date.",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        physician = physician_in_url(request, kwargs)
        data = AvailabilityOverrideIn(data=request.data)
        data.is_valid(raise_exception=True)
        override = availability_override_add(
            actor=user_of(request),
            physician=physician,
            request=OverrideRequest(**data.validated_data),
        )
        return Response(AvailabilityOverrideOut(override).data, status=201)


class MyOverridesView(OverridesView):
    permission_classes = [IsPhysician]


class PhysicianOverridesView(OverridesView):
    permission_classes = [IsStaff]


class OverrideView(APIView):
    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
        summary="Delete a date override",
        description="409 `override_in_past` for one whose date has passed.",
    )
    def delete(self, request: Request, override_id: str, **kwargs: Any) -> Response:
        physician = physician_in_url(request, kwargs)
        availability_override_delete(
            actor=user_of(request), physician=physician, override_id=override_id
        )
        return Response(status=204)


class MyOverrideView(OverrideView):
    permission_classes = [IsPhysician]


class PhysicianOverrideView(OverrideView):
    permission_classes = [IsStaff]


_ME = "physicians/me"
_NAMED = "physicians/<uuid:physician_id>"

urlpatterns: list[URLPattern] = [
    path(f"{_ME}/schedule", MyScheduleView.as_view(), name="scheduling-my-schedule"),
    path(f"{_ME}/overrides", MyOverridesView.as_view(), name="scheduling-my-overrides"),
    path(
        f"{_ME}/overrides/<uuid:override_id>",
        MyOverrideView.as_view(),
        name="scheduling-my-override",
    ),
    path(f"{_NAMED}/schedule", PhysicianScheduleView.as_view(), name="scheduling-schedule"),
    path(f"{_NAMED}/overrides", PhysicianOverridesView.as_view(), name="scheduling-overrides"),
    path(
        f"{_NAMED}/overrides/<uuid:override_id>",
        PhysicianOverrideView.as_view(),
        name="scheduling-override",
    ),
]

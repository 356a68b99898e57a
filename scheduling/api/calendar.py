"""Calendars: a patient's own appointments, a physician's agenda, and any physician's
agenda for operations staff. No visit note is ever shown here (the visit's own detail
is the place for it); every appointment shown is an audited read, one INSERT per page."""

from __future__ import annotations

import datetime as dt
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOpsAdmin, IsPatient, IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses, iso_utc
from core.clock import practice_today
from patients.selectors.measurement import patient_zone
from patients.selectors.own_record import own_record
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from scheduling.selectors import calendar


def iso_local(value: datetime, zone: ZoneInfo) -> str:
    """The wall-clock time in `zone`, with its offset ("2026-03-09T09:00:00-05:00")."""
    return value.astimezone(zone).isoformat()


# --- patients: my appointments -----------------------------------------------------------

WHEN = ("upcoming", "past")


class MyAppointmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = enum_field(AppointmentKind.values)
    status = enum_field(AppointmentStatus.values)
    starts_at = serializers.DateTimeField(help_text="UTC")
    ends_at = serializers.DateTimeField(help_text="UTC")
    time_zone = serializers.CharField(help_text="The patient's IANA zone.")
    starts_at_local = serializers.CharField(help_text="Wall-clock time in `time_zone`.")
    ends_at_local = serializers.CharField(help_text="Wall-clock time in `time_zone`.")
    physician_name = serializers.CharField()
    physician_title = serializers.CharField(help_text="From the public profile; may be blank.")
    late_cancellation = serializers.BooleanField()


def _my_row(row: Appointment, zone: ZoneInfo) -> dict[str, Any]:
    """MyAppointmentOut as a plain dict of JSON values (the serializer documents it)."""
    doctor = row.physician
    return {
        "id": str(row.public_id),
        "kind": row.kind,
        "status": row.status,
        "starts_at": iso_utc(row.starts_at),
        "ends_at": iso_utc(row.ends_at),
        "time_zone": zone.key,
        "starts_at_local": iso_local(row.starts_at, zone),
        "ends_at_local": iso_local(row.ends_at, zone),
        "physician_name": str(doctor),
        "physician_title": calendar.physician_title(doctor),
        "late_cancellation": row.late_cancellation,
    }


class MyAppointmentsFilter(django_filters.FilterSet):
    when = django_filters.ChoiceFilter(
        choices=[(value, value) for value in WHEN],
        label="upcoming (default: booked or in progress and not over, soonest first) or "
        "past (everything else, newest first)",
    )

    class Meta:
        model = Appointment
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        when: calendar.When = "past" if self.form.cleaned_data.get("when") == "past" else "upcoming"
        return calendar.appointments_when(queryset, when=when, now=timezone.now())


@extend_schema(
    responses={200: MyAppointmentOut(many=True), **error_responses(400, 401, 403, 409)},
    summary="My appointments, upcoming or past (times in UTC and in my zone)",
)
class MyAppointmentsView(generics.ListAPIView):
    permission_classes = [IsPatient]
    filterset_class = MyAppointmentsFilter
    serializer_class = MyAppointmentOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Appointment.objects.none()
        self.patient = own_record(user_of(self.request))
        return calendar.patient_appointments(self.patient)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        patient = self.patient
        audit_phi_read(
            actor=user_of(request), objects=page, patient_id_of=lambda _: patient.public_id
        )
        zone = patient_zone(patient)
        return self.get_paginated_response([_my_row(row, zone) for row in page])


# --- physicians: the agenda --------------------------------------------------------------


# An agenda is asked for around now: far-off dates are refused rather than computed.
AGENDA_REACH = timedelta(days=3660)


class AgendaQuery(StrictSerializer):
    date = serializers.DateField(help_text="The first day, in the physician's zone.")
    days = serializers.ChoiceField(choices=[1, 7], default=1, help_text="1 (a day) or 7")

    def validate_date(self, value: dt.date) -> dt.date:
        if abs(value - practice_today()) > AGENDA_REACH:
            raise serializers.ValidationError("Must be within ten years of today.")
        return value


class AgendaAppointmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    patient_initials = serializers.CharField()
    kind = enum_field(AppointmentKind.values)
    status = enum_field(AppointmentStatus.values)
    starts_at = serializers.DateTimeField(help_text="UTC")
    ends_at = serializers.DateTimeField(help_text="UTC")
    starts_at_local = serializers.CharField(help_text="Wall-clock time in the agenda's zone.")
    ends_at_local = serializers.CharField(help_text="Wall-clock time in the agenda's zone.")


class AgendaOut(serializers.Serializer):
    physician_id = serializers.UUIDField(help_text="The physician's user id.")
    time_zone = serializers.CharField(help_text="The physician's IANA zone.")
    date = serializers.DateField()
    days = serializers.IntegerField()
    starts_at = serializers.DateTimeField(help_text="Local midnight of `date`, in UTC.")
    ends_at = serializers.DateTimeField(help_text="Local midnight after the last day, in UTC.")
    appointments = AgendaAppointmentOut(
        many=True, help_text="Starting in the range, soonest first; canceled ones left out."
    )


AGENDA_PARAMETERS = [
    OpenApiParameter("date", str, OpenApiParameter.QUERY, required=True, description="YYYY-MM-DD"),
    OpenApiParameter("days", int, OpenApiParameter.QUERY, enum=[1, 7], description="1 or 7"),
]


def _agenda_body(request: Request, owner: calendar.AgendaOwner) -> dict[str, Any]:
    """Read, audit and shape one physician's agenda (the same shape for the physician and
    for operations staff: no visit note, no reason, no room)."""
    query = AgendaQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    day, days = query.validated_data["date"], int(query.validated_data["days"])
    rows = calendar.agenda(owner, day=day, days=days)
    audit_phi_read(actor=user_of(request), objects=rows)
    zone = ZoneInfo(owner.time_zone)
    start, end = calendar.local_day_bounds(day, days, owner.time_zone)
    return {
        "physician_id": str(owner.physician.user.public_id),
        "time_zone": owner.time_zone,
        "date": day.isoformat(),
        "days": days,
        "starts_at": iso_utc(start),
        "ends_at": iso_utc(end),
        "appointments": [
            {
                "id": str(row.public_id),
                "patient_id": str(row.patient.public_id),
                "patient_initials": calendar.initials(row.patient),
                "kind": row.kind,
                "status": row.status,
                "starts_at": iso_utc(row.starts_at),
                "ends_at": iso_utc(row.ends_at),
                "starts_at_local": iso_local(row.starts_at, zone),
                "ends_at_local": iso_local(row.ends_at, zone),
            }
            for row in rows
        ],
    }


class MyAgendaView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        parameters=AGENDA_PARAMETERS,
        responses={200: AgendaOut, **error_responses(400, 401, 403, 404)},
        summary="My agenda for a day or a week, in my zone",
    )
    def get(self, request: Request) -> Response:
        owner = calendar.agenda_owner_of(user_of(request))
        return Response(_agenda_body(request, owner))


class PhysicianAgendaView(APIView):
    permission_classes = [IsOpsAdmin]

    @extend_schema(
        parameters=AGENDA_PARAMETERS,
        responses={200: AgendaOut, **error_responses(400, 401, 403, 404)},
        summary="Any physician's agenda for a day or a week, in their zone (operations)",
    )
    def get(self, request: Request, public_id: str) -> Response:
        owner = calendar.agenda_owner_by_public_id(public_id)
        return Response(_agenda_body(request, owner))


urlpatterns: list[URLPattern] = [
    path("me/appointments", MyAppointmentsView.as_view(), name="scheduling-my-appointments"),
    path("agenda", MyAgendaView.as_view(), name="scheduling-agenda"),
    path(
        "physicians/<uuid:public_id>/agenda",
        PhysicianAgendaView.as_view(),
        name="scheduling-physician-agenda",
    ),
]

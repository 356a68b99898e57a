"""Appointments: book, read, reschedule, cancel.

A patient books for themself; staff name the patient (a physician only with themself).
The appointment is visible to its patient, the visit's physician and ops admins; anyone
else gets 404. Every answer carries the physician disclosure for the patient's state
(New Jersey: identity, license number and board certification before the visit)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.urls import URLPattern, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from accounts.permissions import IsAuthenticatedWithMfa, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses, iso_utc
from core.errors import NotFound
from core.text import PlainTextField
from patients.models import Patient
from patients.selectors.measurement import patient_zone
from scheduling.api.calendar import iso_local
from scheduling.api.physicians import DisclosureOut
from scheduling.api.slots import (
    SlotPhysicianOut,
    physician_brief,
    slot_patient,
)
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from scheduling.selectors.appointments import appointment_visible_to, rescheduled_to
from scheduling.selectors.availability import physician_disclosure
from scheduling.selectors.booking_facts import booking_facts_of_user
from scheduling.selectors.physicians import bookable_physician
from scheduling.services.booking import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)

REASON_MAX = 500


class AppointmentBookIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=AppointmentKind.choices)
    starts_at = serializers.DateTimeField(help_text="The slot's start, as slot search gave it.")
    physician = serializers.UUIDField(help_text="The physician's id (from slot search).")
    patient = serializers.UUIDField(
        required=False, help_text="Staff: the patient to book for (a patient books for themself)."
    )


class AppointmentRescheduleIn(StrictSerializer):
    starts_at = serializers.DateTimeField(help_text="The new slot's start (same physician).")
    reason = PlainTextField(
        multiline=True,
        max_length=REASON_MAX,
        required=False,
        allow_blank=True,
        help_text="Required when a physician or an admin makes the change.",
    )


class AppointmentCancelIn(StrictSerializer):
    reason = PlainTextField(
        multiline=True,
        max_length=REASON_MAX,
        required=False,
        allow_blank=True,
        help_text="Required when a physician or an admin cancels.",
    )


class AppointmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = enum_field(AppointmentKind.values)
    status = enum_field(AppointmentStatus.values)
    starts_at = serializers.DateTimeField(help_text="UTC instant.")
    ends_at = serializers.DateTimeField(help_text="UTC instant.")
    local_starts_at = serializers.CharField(
        help_text="Wall-clock start in the patient's zone, ISO 8601 with its UTC offset."
    )
    time_zone = serializers.CharField(help_text="The patient's IANA zone.")
    patient = serializers.UUIDField(help_text="The patient's record id.")
    physician = SlotPhysicianOut()
    disclosure = DisclosureOut(
        help_text="The physician's identity, title, board certification and license "
        "number in the patient's state, disclosed before the visit."
    )
    link = serializers.CharField(help_text="The appointment's path in the app.")
    rescheduled_from = serializers.UUIDField(allow_null=True)
    rescheduled_to = serializers.UUIDField(allow_null=True)
    canceled_at = serializers.DateTimeField(allow_null=True)
    late_cancellation = serializers.BooleanField()
    cancel_reason = serializers.CharField(allow_blank=True)
    visit_note = serializers.CharField(
        allow_null=True, help_text="The visit's physician only; null for everyone else."
    )


def appointment_out(
    appointment: Appointment, viewer: User, *, created: bool = False
) -> dict[str, Any]:
    """AppointmentOut as plain JSON values (the serializer documents the shape; building
    it per answer cost more than the rest of the answer). `created`: the appointment was
    inserted by this request, so nothing has replaced it yet (its public id was never out
    of this transaction) and there is no successor to look up."""
    patient, physician = appointment.patient, appointment.physician
    zone = patient_zone(patient)
    successor = None if created else rescheduled_to(appointment)
    own_visit = physician.user_id == viewer.pk
    brief = physician_brief(physician)
    predecessor = appointment.rescheduled_from
    return {
        "id": str(appointment.public_id),
        "kind": str(appointment.kind),
        "status": str(appointment.status),
        "starts_at": iso_utc(appointment.starts_at),
        "ends_at": iso_utc(appointment.ends_at),
        "local_starts_at": iso_local(appointment.starts_at, zone),
        "time_zone": zone.key,
        "patient": str(patient.public_id),
        "physician": {name: str(value) for name, value in brief.items()},
        "disclosure": {
            name: str(value)
            for name, value in asdict(physician_disclosure(physician, patient.state)).items()
        },
        "link": appointment.app_path,
        "rescheduled_from": str(predecessor.public_id) if predecessor else None,
        "rescheduled_to": str(successor.public_id) if successor else None,
        "canceled_at": iso_utc(appointment.canceled_at) if appointment.canceled_at else None,
        "late_cancellation": bool(appointment.late_cancellation),
        "cancel_reason": str(appointment.cancel_reason or ""),
        "visit_note": str(appointment.visit_note or "") if own_visit else None,
    }


def _booking_patient(viewer: User, patient_id: Any) -> Patient:
    """slot_patient; a patient's own record read with its gates' facts in one query, and
    only the columns booking reads (nothing decrypted)."""
    if viewer.role != Role.PATIENT:
        return slot_patient(viewer, patient_id)
    patient = booking_facts_of_user(viewer.pk, timezone.now())
    if patient is None:
        raise NotFound("Complete your patient record first.")
    patient.user = viewer
    return patient


def _answer(appointment: Appointment, viewer: User, status: int = 200) -> Response:
    return Response(appointment_out(appointment, viewer, created=status == 201), status=status)


class AppointmentListView(APIView):
    permission_classes = [IsAuthenticatedWithMfa]

    @extend_schema(
        request=AppointmentBookIn,
        responses={201: AppointmentOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Book an appointment in an open slot",
        description="409 `booking_refused` with every failing gate in `fields.patient` "
        "(`email_unverified`, `no_submitted_assessment_or_intake`, the clearance and "
        "membership codes); 409 `slot_unavailable` when the time is not an open slot; "
        "409 `slot_taken`, `patient_busy` or `already_booked` when another booking got "
        "there first. The answer carries the physician disclosure.",
    )
    def post(self, request: Request) -> Response:
        body = AppointmentBookIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        viewer = user_of(request)
        patient = _booking_patient(viewer, data.get("patient"))
        appointment = appointment_book(
            patient=patient,
            physician=bookable_physician(data["physician"]),
            kind=data["kind"],
            starts_at=data["starts_at"],
            actor=viewer,
        )
        return _answer(appointment, viewer, status=201)


class AppointmentDetailView(APIView):
    permission_classes = [IsAuthenticatedWithMfa]

    @extend_schema(
        responses={200: AppointmentOut, **error_responses(401, 403, 404)},
        summary="One appointment, with the physician disclosure",
        description="The patient, the visit's physician and ops admins; anyone else 404.",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        appointment = appointment_visible_to(viewer, public_id)
        audit_phi_read(actor=viewer, objects=[appointment])
        return _answer(appointment, viewer)


class AppointmentRescheduleView(APIView):
    permission_classes = [IsAuthenticatedWithMfa]

    @extend_schema(
        request=AppointmentRescheduleIn,
        responses={201: AppointmentOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Move a booked appointment to another open slot with the same physician",
        description="Answers the new appointment; the old one is canceled. Patients may "
        "move a visit until 12 hours before it (setting), later 409 "
        "`too_late_to_reschedule` (they may still cancel). Staff give a `reason`. 409 "
        "`invalid_transition` unless booked; the slot answers as for a booking.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        body = AppointmentRescheduleIn(data=request.data)
        body.is_valid(raise_exception=True)
        viewer = user_of(request)
        appointment = appointment_reschedule(
            appointment=appointment_visible_to(viewer, public_id),
            starts_at=body.validated_data["starts_at"],
            actor=viewer,
            reason=body.validated_data.get("reason", ""),
        )
        return _answer(appointment, viewer, status=201)


class AppointmentCancelView(APIView):
    permission_classes = [IsAuthenticatedWithMfa]

    @extend_schema(
        request=AppointmentCancelIn,
        responses={200: AppointmentOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Cancel a booked appointment",
        description="A patient's cancellation less than 12 hours (setting) before the "
        "start is recorded as late (`late_cancellation`). Staff give a `reason`. 409 "
        "`invalid_transition` unless booked.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        body = AppointmentCancelIn(data=request.data)
        body.is_valid(raise_exception=True)
        viewer = user_of(request)
        appointment = appointment_cancel(
            appointment=appointment_visible_to(viewer, public_id),
            actor=viewer,
            reason=body.validated_data.get("reason", ""),
        )
        return _answer(appointment, viewer)


urlpatterns: list[URLPattern] = [
    path("appointments", AppointmentListView.as_view(), name="appointment-list"),
    path(
        "appointments/<uuid:public_id>",
        AppointmentDetailView.as_view(),
        name="appointment-detail",
    ),
    path(
        "appointments/<uuid:public_id>/reschedule",
        AppointmentRescheduleView.as_view(),
        name="appointment-reschedule",
    ),
    path(
        "appointments/<uuid:public_id>/cancel",
        AppointmentCancelView.as_view(),
        name="appointment-cancel",
    ),
]

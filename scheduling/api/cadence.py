"""The check-in cadence: a patient's interval, and when their next check-in is due
(scheduling.selectors.cadence says how)."""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import IsPatient, IsStaff, user_of
from audit.models import AuditAction
from audit.services import audit_record
from core.api import StrictSerializer, error_responses
from patients.models import Patient
from patients.selectors.own_record import own_record
from patients.selectors.record import patient_visible_to
from scheduling.selectors.cadence import check_in_status
from scheduling.services.cadence import CADENCE_OBJECT_TYPE, check_in_cadence_set


class CadenceIn(StrictSerializer):
    interval_days = serializers.IntegerField(
        min_value=1, max_value=365, help_text="Days between check-ins (1-365)."
    )


class CadenceOut(serializers.Serializer):
    interval_days = serializers.IntegerField()
    last_check_in_at = serializers.DateTimeField(allow_null=True)
    due_on = serializers.DateField(
        allow_null=True,
        help_text="In the patient's time zone: the last completed check-in (or, before the "
        "first, the intake's approval) plus the interval. Null: not in care yet.",
    )
    due = serializers.BooleanField(help_text="Today is on or after due_on.")
    overdue = serializers.BooleanField(
        help_text="Today is after due_on (from the day after the due date)."
    )
    booked_for = serializers.DateTimeField(
        allow_null=True, help_text="The start of the upcoming check-in, if one is booked."
    )


def _status_response(viewer: User, patient: Patient) -> Response:
    status = check_in_status(patient)
    audit_record(
        actor=viewer,
        action=AuditAction.READ,
        object_type=CADENCE_OBJECT_TYPE,
        object_id=str(patient.public_id),
        patient_id=patient.public_id,
    )
    body = {
        "interval_days": status.interval_days,
        "last_check_in_at": status.last_check_in_at,
        "due_on": status.due_on,
        "due": status.due,
        "overdue": status.overdue,
        "booked_for": status.booked_for,
    }
    return Response(CadenceOut(body).data)


class PatientCadenceView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses={200: CadenceOut, **error_responses(401, 403, 404)},
        summary="A patient's check-in interval and when their next check-in is due",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        return _status_response(viewer, patient_visible_to(viewer, public_id))

    @extend_schema(
        request=CadenceIn,
        responses={200: CadenceOut, **error_responses(400, 401, 403, 404)},
        summary="Set a patient's check-in interval (physician of their state, or ops admin)",
    )
    def put(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = patient_visible_to(viewer, public_id)
        data = CadenceIn(data=request.data)
        data.is_valid(raise_exception=True)
        check_in_cadence_set(
            patient=patient, interval_days=data.validated_data["interval_days"], actor=viewer
        )
        return _status_response(viewer, patient)


class OwnCadenceView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: CadenceOut, **error_responses(401, 403, 409)},
        summary="My check-in interval and when my next check-in is due",
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        return _status_response(user, own_record(user))


urlpatterns: list[URLPattern] = [
    path(
        "patients/<uuid:public_id>/cadence",
        PatientCadenceView.as_view(),
        name="scheduling-patient-cadence",
    ),
    path("me/cadence", OwnCadenceView.as_view(), name="scheduling-my-cadence"),
]

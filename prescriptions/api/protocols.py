"""A patient's dosing protocol, for physicians who may see the patient (another patient's
id is 404; patients and ops admins 403).

* `GET patients/<id>/protocol`: the current protocol and its dose changes (audited).
* `POST patients/<id>/protocol`: set a new protocol; the current one ends.
* `POST patients/<id>/protocol/dose-changes`: a titration step or step down at a check-in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses
from core.errors import NotFound
from core.text import PlainTextField
from patients.selectors.record import patient_visible_to
from prescriptions.models import DosingProtocol, Medication, ProtocolKind
from prescriptions.selectors.protocols import protocol_current_with_changes
from prescriptions.services.protocols import ProtocolPlan, protocol_dose_change, protocol_set


def mg_field(help_text: str = "", **kwargs: Any) -> serializers.DecimalField:
    """Milligrams: up to 99999.99, as a JSON string ("100.00")."""
    return serializers.DecimalField(max_digits=7, decimal_places=2, help_text=help_text, **kwargs)


class ProtocolIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=ProtocolKind.choices)
    medication = serializers.SlugRelatedField(
        slug_field="public_id",
        queryset=Medication.objects.all(),
        help_text="A formulation's id (GET medications).",
    )
    starting_dose_mg = mg_field("The dose per session to start at.", min_value=Decimal("0.01"))
    titration_step_mg = mg_field("The most one change may go up.", min_value=Decimal("0"))
    min_days_between_steps = serializers.IntegerField(min_value=0, max_value=365)
    ceiling_dose_mg = mg_field("No dose above this.", min_value=Decimal("0.01"))
    max_per_session_mg = mg_field("At most this in one session.", min_value=Decimal("0.01"))
    min_hours_between_sessions = serializers.IntegerField(min_value=1, max_value=24 * 90)


class DoseChangeIn(StrictSerializer):
    visit = serializers.UUIDField(
        help_text="The check-in visit (yours, with this patient, in progress or completed)."
    )
    to_dose_mg = mg_field("The new dose per session.", min_value=Decimal("0.01"))
    reason = PlainTextField(multiline=True, max_length=4000, help_text="Encrypted at rest.")


class DoseChangeOut(serializers.Serializer):
    from_dose_mg = mg_field()
    to_dose_mg = mg_field()
    reason = serializers.CharField()
    visit = serializers.UUIDField(source="visit.public_id")
    changed_by = serializers.UUIDField(source="changed_by.public_id")
    changed_at = serializers.DateTimeField()


class ProtocolOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    physician_name = serializers.CharField(source="physician")
    kind = enum_field(ProtocolKind.values)
    medication = serializers.UUIDField(source="medication.public_id")
    medication_name = serializers.CharField(source="medication")
    starting_dose_mg = mg_field()
    current_dose_mg = mg_field()
    titration_step_mg = mg_field()
    min_days_between_steps = serializers.IntegerField()
    ceiling_dose_mg = mg_field()
    max_per_session_mg = mg_field()
    min_hours_between_sessions = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    changes = DoseChangeOut(many=True, help_text="Newest first.")


def _protocol_body(protocol: DosingProtocol) -> Any:
    return ProtocolOut(protocol).data


class PatientProtocolView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        responses={200: ProtocolOut, **error_responses(401, 403, 404)},
        summary="A patient's current dosing protocol with its dose changes",
        description="404 when the patient has no current protocol (or is not yours to see).",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        protocol = protocol_current_with_changes(patient_visible_to(viewer, public_id))
        if protocol is None:
            raise NotFound("The patient has no current protocol.")
        audit_phi_read(actor=viewer, objects=[protocol])
        return Response(_protocol_body(protocol))

    @extend_schema(
        request=ProtocolIn,
        responses={201: ProtocolOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Set a patient's dosing protocol (the current one ends)",
        description="400 with the field for inconsistent numbers (starting dose or max per "
        "session above the ceiling, max per session below the starting dose, a retired "
        "formulation); 409 `protocol_changed` when another was set at the same moment.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = patient_visible_to(viewer, public_id)
        data = ProtocolIn(data=request.data)
        data.is_valid(raise_exception=True)
        plan = ProtocolPlan(**data.validated_data)
        protocol = protocol_set(actor=viewer, patient=patient, plan=plan)
        protocol = protocol_current_with_changes(patient) or protocol
        return Response(_protocol_body(protocol), status=201)


class DoseChangeView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=DoseChangeIn,
        responses={201: ProtocolOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Change the dose of a patient's protocol at a check-in",
        description="Up: one titration step at most, not sooner than min_days_between_steps "
        "after the last change, never above the ceiling or the max per session (400 on "
        "`to_dose_mg`). Down: always. 400 on `visit` when it is not your visit with this "
        "patient, in progress or completed; 409 `no_current_protocol`.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = patient_visible_to(viewer, public_id)
        data = DoseChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        protocol_dose_change(
            actor=viewer,
            patient=patient,
            visit_id=str(values["visit"]),
            to_dose_mg=values["to_dose_mg"],
            reason=values["reason"],
        )
        protocol = protocol_current_with_changes(patient)
        assert protocol is not None
        return Response(_protocol_body(protocol), status=201)


urlpatterns: list[URLPattern] = [
    path(
        "patients/<uuid:public_id>/protocol",
        PatientProtocolView.as_view(),
        name="prescriptions-patient-protocol",
    ),
    path(
        "patients/<uuid:public_id>/protocol/dose-changes",
        DoseChangeView.as_view(),
        name="prescriptions-dose-changes",
    ),
]

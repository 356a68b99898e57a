"""The prescribing record of a patient, for physicians who may see the patient (another
patient's id is 404; patients and ops admins 403):

* `GET/POST patients/<id>/pdmp-checks`: PDMP look-ups (FL E-FORCSE, NJ NJPMP by the
  patient's state): the reference and notes are the physician's, who and when ours.
* `GET/POST patients/<id>/in-person-evaluations`: documented in-person evaluations (after
  the telemedicine rule's end date a prescription needs one).
Every read is audited.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, enum_field, error_responses
from core.text import PlainTextField
from patients.selectors.record import patient_visible_to
from prescriptions.models import InPersonEvaluation, PdmpCheck, PdmpProgram
from prescriptions.selectors.prescribing import in_person_evaluations_of, pdmp_checks_of
from prescriptions.services.prescriptions import in_person_evaluation_record, pdmp_check_record


class PdmpCheckIn(StrictSerializer):
    reference = PlainTextField(max_length=200, help_text="The program's reference for the look-up.")
    notes = PlainTextField(multiline=True, max_length=4000, required=False, allow_blank=True)


class PdmpCheckOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    program = enum_field(PdmpProgram.values, help_text="FL: E-FORCSE; NJ: NJPMP.")
    reference = serializers.CharField()
    notes = serializers.CharField()
    checked_by = serializers.UUIDField(source="checked_by.public_id")
    checked_at = serializers.DateTimeField()
    checked_on = serializers.DateField(help_text="The practice date of checked_at.")


class EvaluationIn(StrictSerializer):
    evaluated_on = serializers.DateField(help_text="Not in the future.")
    notes = PlainTextField(multiline=True, max_length=4000, required=False, allow_blank=True)


class EvaluationOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    evaluated_on = serializers.DateField()
    physician_name = serializers.CharField(source="physician")
    notes = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class _PatientRecordList(generics.ListAPIView):
    """A patient's rows, newest first, paginated; the page's reads audited."""

    permission_classes = [IsPhysician]

    def rows(self, patient: Any) -> Any:
        raise NotImplementedError

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return PdmpCheck.objects.none()
        return self.rows(patient_visible_to(user_of(self.request), self.kwargs["public_id"]))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        audit_phi_read(actor=user_of(request), objects=page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(
    responses={200: PdmpCheckOut(many=True), **error_responses(401, 403, 404)},
    summary="A patient's PDMP checks, newest first",
)
class PdmpCheckListView(_PatientRecordList):
    serializer_class = PdmpCheckOut

    def rows(self, patient: Any) -> Any:
        return pdmp_checks_of(patient)

    @extend_schema(
        request=PdmpCheckIn,
        responses={201: PdmpCheckOut, **error_responses(400, 401, 403, 404)},
        summary="Record a PDMP check of the patient (in their state's program)",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = patient_visible_to(viewer, public_id)
        data = PdmpCheckIn(data=request.data)
        data.is_valid(raise_exception=True)
        check = pdmp_check_record(actor=viewer, patient=patient, **data.validated_data)
        return Response(PdmpCheckOut(check).data, status=201)


@extend_schema(
    responses={200: EvaluationOut(many=True), **error_responses(401, 403, 404)},
    summary="A patient's documented in-person evaluations, newest first",
)
class EvaluationListView(_PatientRecordList):
    serializer_class = EvaluationOut

    def rows(self, patient: Any) -> Any:
        return in_person_evaluations_of(patient)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return InPersonEvaluation.objects.none()
        return super().get_queryset()

    @extend_schema(
        request=EvaluationIn,
        responses={201: EvaluationOut, **error_responses(400, 401, 403, 404)},
        summary="Document an in-person evaluation of the patient",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = patient_visible_to(viewer, public_id)
        data = EvaluationIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        evaluation = in_person_evaluation_record(actor=viewer, patient=patient, **values)
        return Response(EvaluationOut(evaluation).data, status=201)


urlpatterns: list[URLPattern] = [
    path(
        "patients/<uuid:public_id>/pdmp-checks",
        PdmpCheckListView.as_view(),
        name="prescriptions-pdmp-checks",
    ),
    path(
        "patients/<uuid:public_id>/in-person-evaluations",
        EvaluationListView.as_view(),
        name="prescriptions-in-person-evaluations",
    ),
]

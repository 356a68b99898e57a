"""The patient record: the patient's own (read, create or replace), one patient's, and the
list staff may see."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, State
from accounts.permissions import IsPatient, IsStaff, user_of
from audit.services import audit_phi_read
from core.api import StrictSerializer, error_responses
from core.clock import practice_today
from core.errors import NotFound
from core.text import BirthDateField, PlainTextField
from patients.api.fields import UsPhoneField
from patients.geography import CENTRAL, EASTERN
from patients.models import Patient, SexAtBirth
from patients.selectors import own_record, record
from patients.services.record import patient_profile_save


class PatientProfileIn(StrictSerializer):
    legal_first_name = PlainTextField(max_length=100)
    legal_last_name = PlainTextField(max_length=100)
    date_of_birth = BirthDateField()
    sex_at_birth = serializers.ChoiceField(choices=SexAtBirth.choices)
    phone = UsPhoneField(max_length=32)
    address_line1 = PlainTextField(max_length=200)
    address_line2 = PlainTextField(max_length=200, required=False, allow_blank=True)
    city = PlainTextField(max_length=100)
    state = serializers.ChoiceField(choices=State.choices)
    county = PlainTextField(max_length=64)
    zip_code = PlainTextField(max_length=10)
    time_zone = serializers.ChoiceField(
        choices=[CENTRAL, EASTERN],
        required=False,
        help_text="Only asked where a county spans two zones (Gulf County, FL).",
    )
    emergency_contact_name = PlainTextField(max_length=200)
    emergency_contact_phone = UsPhoneField(max_length=32)
    sitter_name = PlainTextField(max_length=200, help_text="Adult present at sessions")
    sitter_phone = UsPhoneField(max_length=32)


class ContactOut(serializers.Serializer):
    """What operations staff see: who and where, nothing clinical."""

    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField(source="user.email")
    legal_first_name = serializers.CharField()
    legal_last_name = serializers.CharField()
    phone = serializers.CharField()
    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    county = serializers.CharField()
    zip_code = serializers.CharField()
    time_zone = serializers.CharField()


class PatientOut(ContactOut):
    """The whole record: for the patient and their physicians."""

    date_of_birth = serializers.DateField()
    sex_at_birth = serializers.CharField()
    emergency_contact_name = serializers.CharField()
    emergency_contact_phone = serializers.CharField()
    sitter_name = serializers.CharField()
    sitter_phone = serializers.CharField()
    updated_at = serializers.DateTimeField()


_CONTACT_FIELDS = tuple(name for name in ContactOut._declared_fields if name not in {"id", "email"})
_RECORD_FIELDS = tuple(name for name in PatientOut._declared_fields if name not in {"id", "email"})


def _record_for(viewer_role: str, patient: Patient) -> dict[str, Any]:
    """ContactOut / PatientOut as a plain dict: instantiating a serializer costs more than
    the rest of this read (see benchmarks/); the serializers document the same shape."""
    names = _CONTACT_FIELDS if viewer_role == Role.OPS_ADMIN else _RECORD_FIELDS
    return {
        "id": patient.public_id,
        "email": patient.user.email,
        **{name: getattr(patient, name) for name in names},
    }


class MyRecordView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: PatientOut, **error_responses(401, 403, 404)}, summary="My patient record"
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        patient = own_record.patient_of_audited(user)
        if patient is None:
            raise NotFound("No record yet: complete your profile first.", code="no_record")
        return Response(_record_for(user.role, patient))

    @extend_schema(
        request=PatientProfileIn,
        responses={200: PatientOut, **error_responses(400, 401, 403)},
        summary="Create or replace my patient record",
    )
    def put(self, request: Request) -> Response:
        data = PatientProfileIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_of(request)
        patient = patient_profile_save(user=user, data=data.validated_data, today=practice_today())
        return Response(_record_for(user.role, patient))


class PatientDetailView(APIView):
    @extend_schema(
        responses={200: PatientOut, **error_responses(401, 403, 404)},
        summary="One patient's record, as the caller may see it",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        patient = record.patient_visible_to(viewer, public_id)
        audit_phi_read(actor=viewer, objects=[patient])
        return Response(_record_for(viewer.role, patient))


class PatientFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    county = django_filters.CharFilter()

    class Meta:
        model = Patient
        fields: list[str] = []


@extend_schema(
    responses={200: ContactOut(many=True), **error_responses(400, 401, 403)},
    summary="Patients the caller may see (physicians: their licensed states)",
)
class PatientListView(generics.ListAPIView):
    permission_classes = [IsStaff]
    filterset_class = PatientFilter
    serializer_class = ContactOut

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Patient.objects.none()
        return record.patients_visible_to(user_of(self.request)).order_by("created_at", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        viewer = user_of(request)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        audit_phi_read(actor=viewer, objects=page or [])
        return self.get_paginated_response([_record_for(viewer.role, p) for p in page or []])

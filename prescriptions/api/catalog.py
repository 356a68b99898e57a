"""The catalog: active formulations, for physicians (choosing a protocol, prescribing) and
ops admins (the delivery list names them); patients 403."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from accounts.permissions import IsStaff
from core.api import enum_field, error_responses
from prescriptions.models import DosageForm, Medication, Route
from prescriptions.selectors.protocols import medications_active
from prescriptions.services.signing import milligrams


class MedicationOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    dosage_form = enum_field(DosageForm.values)
    route = enum_field(Route.values)
    strength_mg = serializers.DecimalField(max_digits=7, decimal_places=2)
    unit = serializers.CharField(help_text="What one strength_mg comes in: tablet, troche, spray.")
    schedule = serializers.CharField()
    display_name = serializers.SerializerMethodField(help_text='"Ketamine HCl 100 mg troche".')

    def get_display_name(self, medication: Medication) -> str:
        form = medication.get_dosage_form_display().lower()
        return f"{medication.name} {milligrams(medication.strength_mg)} {form}"


@extend_schema(
    responses={200: MedicationOut(many=True), **error_responses(401, 403)},
    summary="Active compounded formulations (physicians and ops admins)",
)
class MedicationListView(generics.ListAPIView):
    permission_classes = [IsStaff]
    serializer_class = MedicationOut

    def get_queryset(self) -> Any:
        return medications_active()


urlpatterns: list[URLPattern] = [
    path("medications", MedicationListView.as_view(), name="prescriptions-medications"),
]

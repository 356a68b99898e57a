"""Prescriptions: signing, reading, canceling.

* `POST prescriptions`: a physician signs (prescriptions.services.signing): 201 with the
  prescription and its first-fill order; 200 with the same prescription for a repeat of
  one signed within the last minutes (a double submission makes one).
* `GET prescriptions`: physicians their patients' (filter `patient`), patients their own.
* `GET prescriptions/<id>`: with refills remaining and its orders.
* `POST prescriptions/<id>/cancel`: a physician who may see the patient; 409
  `prescription_canceled` the second time.
Ops admins get 403 everywhere here: they track orders, never read prescriptions. Every
read is audited (prescriptions.selectors.scoping decides who sees which)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import Prefetch
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPatient, IsPhysician, user_of
from audit.services import audit_phi_read
from core.api import ErrorSerializer, StrictSerializer, enum_field, error_responses
from core.errors import NotFound
from core.text import PlainTextField
from patients.selectors.record import patient_visible_to
from prescriptions.api.protocols import mg_field
from prescriptions.models import (
    DeliveryOrder,
    DosageForm,
    Medication,
    OrderKind,
    OrderStatus,
    Prescription,
    PrescriptionStatus,
    Route,
)
from prescriptions.selectors.scoping import prescription_visible_to, prescriptions_visible_to
from prescriptions.services.prescriptions import prescription_cancel
from prescriptions.services.refills import refills_used, replaced
from prescriptions.services.signing import SigningRequest, prescription_sign

REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="`prescription_refused`: `fields.reasons` lists every reason at once "
    "(totp_invalid, the physician's authority codes such as no_license_in_state, "
    "dea_expired, dea_not_verified, dea_lacks_schedule_iii, no_cds_registration, "
    "cds_not_current; prescriber_address_missing, no_current_protocol, "
    "pdmp_check_missing, prescribing_visit_missing, the patient's clearance codes, "
    "the membership gate's, compounded_acknowledgement_missing, "
    "telemedicine_rule_ended). Or `ship_to_invalid` / `no_pharmacy_for_state` from the "
    "first-fill order: nothing is signed.",
)


class PrescriptionSignIn(StrictSerializer):
    patient = serializers.UUIDField(help_text="The patient's id.")
    visit = serializers.UUIDField(help_text="The prescribing visit (completed, by video).")
    medication = serializers.SlugRelatedField(
        slug_field="public_id", queryset=Medication.objects.all()
    )
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=10000,
        help_text="Units (tablets, troches, sprays): planned_sessions x "
        "dose_per_session_mg / the formulation's strength_mg, exactly.",
    )
    directions = PlainTextField(multiline=True, max_length=2000)
    dose_per_session_mg = mg_field(min_value=Decimal("0.01"))
    max_per_session_mg = mg_field(min_value=Decimal("0.01"))
    min_hours_between_sessions = serializers.IntegerField(min_value=1, max_value=24 * 90)
    planned_sessions = serializers.IntegerField(min_value=1, max_value=365)
    days_supply = serializers.IntegerField(min_value=1, max_value=365)
    refills = serializers.IntegerField(min_value=0, max_value=5)
    totp_code = serializers.CharField(
        max_length=16, help_text="The current code from your authenticator (not a recovery code)."
    )


class CancelIn(StrictSerializer):
    reason = PlainTextField(multiline=True, max_length=2000, help_text="Encrypted at rest.")


class OrderRefOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    kind = enum_field(OrderKind.values)
    fill_number = serializers.IntegerField(allow_null=True)
    status = enum_field(OrderStatus.values)


class PrescriptionRowOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    prescriber_name = serializers.CharField()
    drug_name = serializers.CharField()
    strength = serializers.CharField()
    dosage_form = enum_field(DosageForm.values)
    quantity = serializers.IntegerField()
    refills = serializers.IntegerField()
    issued_on = serializers.DateField()
    expires_on = serializers.DateField()
    status = enum_field(PrescriptionStatus.values)


class PrescriptionOut(PrescriptionRowOut):
    route = enum_field(Route.values)
    quantity_words = serializers.CharField()
    directions = serializers.CharField()
    dose_per_session_mg = mg_field()
    max_per_session_mg = mg_field()
    min_hours_between_sessions = serializers.IntegerField()
    planned_sessions = serializers.IntegerField()
    days_supply = serializers.IntegerField()
    visit = serializers.UUIDField(source="visit.public_id")
    patient_name = serializers.CharField()
    patient_address = serializers.CharField()
    patient_state = serializers.CharField()
    prescriber_address = serializers.CharField()
    prescriber_npi = serializers.CharField()
    prescriber_dea_number = serializers.CharField()
    prescriber_cds_number = serializers.CharField()
    signed_at = serializers.DateTimeField()
    canceled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    refills_remaining = serializers.SerializerMethodField(
        help_text="refills minus the refill orders that used up their fill (one canceled "
        "before it shipped, and not replaced, does not; 0 once canceled or expired is for "
        "the refill request to say)."
    )
    orders = OrderRefOut(many=True, source="orders.all", help_text="Oldest first.")

    def get_refills_remaining(self, prescription: Prescription) -> int:
        return max(prescription.refills - refills_used(list(prescription.orders.all())), 0)


def _detail(viewer: Any, public_id: Any) -> Prescription:
    """The prescription (NotFound unless `viewer` may see it), its visit and its orders
    (oldest first): three queries."""
    orders = Prefetch(
        "orders",
        queryset=DeliveryOrder.objects.annotate(replaced=replaced()).order_by("created_at", "id"),
    )
    prescription = (
        prescriptions_visible_to(viewer)
        .select_related("visit")
        .prefetch_related(orders)
        .filter(public_id=public_id)
        .first()
    )
    if prescription is None:
        raise NotFound("No such prescription.")
    return prescription


class PrescriptionFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient__public_id", label="A patient's id.")

    class Meta:
        model = Prescription
        fields: list[str] = []


@extend_schema(
    responses={200: PrescriptionRowOut(many=True), **error_responses(400, 401, 403)},
    summary="Prescriptions: a physician's patients' (filter by patient), a patient's own",
)
class PrescriptionListView(generics.ListAPIView):
    permission_classes = [IsPatient | IsPhysician]
    serializer_class = PrescriptionRowOut
    filterset_class = PrescriptionFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Prescription.objects.none()
        visible = prescriptions_visible_to(user_of(self.request))
        return visible.order_by("-signed_at", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        audit_phi_read(actor=user_of(request), objects=page)
        return self.get_paginated_response(PrescriptionRowOut(page, many=True).data)

    @extend_schema(
        request=PrescriptionSignIn,
        responses={
            201: PrescriptionOut,
            200: OpenApiResponse(PrescriptionOut, description="A repeat of a signing just made."),
            **error_responses(400, 401, 403, 404, 429),
            409: REFUSED,
        },
        summary="Sign a prescription (physicians, with a TOTP code)",
        description="400 with the field for shape errors and doses outside the patient's "
        "current protocol; 404 for a patient you may not see; 429 past the code-attempt "
        "limit. The same physician, patient, visit and clinical fields again within 10 "
        "minutes answers 200 with the prescription already signed.",
    )
    def post(self, request: Request) -> Response:
        viewer = user_of(request)
        if not IsPhysician().has_permission(request, self):
            self.permission_denied(request)
        data = PrescriptionSignIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        totp_code = values.pop("totp_code")
        patient = patient_visible_to(viewer, values.pop("patient"))
        signed = prescription_sign(
            actor=viewer,
            request=SigningRequest(patient=patient, visit_id=values.pop("visit"), **values),
            totp_code=totp_code,
        )
        prescription = _detail(viewer, signed.prescription.public_id)
        audit_phi_read(actor=viewer, objects=[prescription])
        return Response(PrescriptionOut(prescription).data, status=201 if signed.created else 200)


class PrescriptionDetailView(APIView):
    permission_classes = [IsPatient | IsPhysician]

    @extend_schema(
        responses={200: PrescriptionOut, **error_responses(401, 403, 404)},
        summary="One prescription with its refills remaining and its orders",
    )
    def get(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        prescription = _detail(viewer, public_id)
        audit_phi_read(actor=viewer, objects=[prescription])
        return Response(PrescriptionOut(prescription).data)


class PrescriptionCancelView(APIView):
    permission_classes = [IsPhysician]

    @extend_schema(
        request=CancelIn,
        responses={200: PrescriptionOut, **error_responses(400, 401, 403, 404, 409)},
        summary="Cancel a prescription (stops its refills and its orders not yet sent)",
        description="409 `prescription_canceled` when it is canceled already.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        data = CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        prescription = prescription_visible_to(viewer, public_id)
        prescription_cancel(
            actor=viewer, prescription=prescription, reason=data.validated_data["reason"]
        )
        prescription = _detail(viewer, public_id)
        return Response(PrescriptionOut(prescription).data)


urlpatterns: list[URLPattern] = [
    path("prescriptions", PrescriptionListView.as_view(), name="prescription-list"),
    path(
        "prescriptions/<uuid:public_id>",
        PrescriptionDetailView.as_view(),
        name="prescription-detail",
    ),
    path(
        "prescriptions/<uuid:public_id>/cancel",
        PrescriptionCancelView.as_view(),
        name="prescription-cancel",
    ),
]

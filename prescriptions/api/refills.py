"""Refills: a patient asks for the next fill of their own prescription (another's is
404). Physicians and ops admins may not ask for a patient (403): the issue gives the
request to the patient."""

from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from audit.services import audit_phi_read
from core.api import error_responses
from prescriptions.api.orders import OrderOut, order_answer
from prescriptions.services.refills import refill_request_visible


class RefillView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=None,
        responses={
            201: OpenApiResponse(OrderOut, description="The refill's delivery order, made."),
            200: OpenApiResponse(
                OrderOut,
                description="A repeat of the request that made the latest refill (within "
                "15 minutes, that order not delivered, returned or canceled): the same order.",
            ),
            **error_responses(401, 403, 404, 409),
        },
        summary="Ask for a refill of my prescription",
        description="409 `refill_refused` with every reason in `fields.reasons`: "
        "`prescription_canceled`, `no_refills_remaining`, `prescription_expired`, "
        "`refill_too_early` (the message and `fields.earliest_on` give the earliest date, "
        "in my zone), `check_in_overdue`, the clearance reasons (`safety_flag_open`, "
        "`questionnaire_overdue:<instrument>`, ...) and the membership reason "
        "(`membership_required`, `membership_paused`, ...). 409 `ship_to_invalid` or "
        "`no_pharmacy_for_state` when the order cannot be routed. Asking twice, or at "
        "once, makes one order.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        viewer = user_of(request)
        outcome = refill_request_visible(viewer=viewer, public_id=public_id)
        if not outcome.created:
            audit_phi_read(actor=viewer, objects=[outcome.order])
        status = 201 if outcome.created else 200
        return order_answer(outcome.order, status=status, timeline=outcome.timeline)


urlpatterns: list[URLPattern] = [
    path(
        "prescriptions/<uuid:public_id>/refills",
        RefillView.as_view(),
        name="prescriptions-refill",
    ),
]

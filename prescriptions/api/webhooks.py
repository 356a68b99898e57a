"""Status webhooks from partner pharmacies and carriers: authenticated by the sender's
signature only (prescriptions.services.webhooks has the rules)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictSerializer, error_responses
from core.errors import ValidationFailed
from core.parsers import json_body_problem
from core.text import PlainTextField
from prescriptions.pharmacy.signing import SIGNATURE_HEADERS
from prescriptions.services.webhooks import (
    Report,
    SenderKind,
    status_report_receive,
    webhook_sender_verified,
)


class StatusReportIn(StrictSerializer):
    event_id = PlainTextField(max_length=128)
    status = serializers.CharField(max_length=20)
    occurred_at = serializers.DateTimeField()
    order_number = PlainTextField(max_length=16, required=False, default="")
    tracking_number = PlainTextField(max_length=64, required=False, default="")
    carrier = serializers.SlugField(max_length=32, required=False, default="")
    signed_by = PlainTextField(max_length=200, required=False, default="")


class StatusReportOut(serializers.Serializer):
    # A plain string: an enum named "outcome" would collide with the intake's.
    outcome = serializers.CharField(
        help_text="What became of the report: `applied` now, `waiting` for the order to get "
        "there, kept but behind the order (`stale`) or refused by its place "
        "(`not_allowed`), or a repeat of an event id already received (`duplicate`)."
    )


class _StatusWebhookView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    kind: SenderKind

    def receive(self, request: Request, key: str) -> Response:
        sender = webhook_sender_verified(
            kind=self.kind,
            key=key,
            body=request.body,
            signature=request.headers.get(SIGNATURE_HEADERS[self.kind], ""),
        )
        if (problem := json_body_problem(request.body)) is not None:
            raise ValidationFailed(problem, code="parse_error")
        try:
            data = json.loads(request.body)
        except ValueError:
            raise ValidationFailed("The body is not JSON.", code="parse_error") from None
        incoming = StatusReportIn(data=data)
        incoming.is_valid(raise_exception=True)
        values = incoming.validated_data
        report = Report(
            event_id=values["event_id"],
            status=values["status"],
            occurred_at=values["occurred_at"],
            order_number=values["order_number"],
            tracking_number=values["tracking_number"],
            carrier_code=values["carrier"],
            signed_by=values["signed_by"],
        )
        return Response({"outcome": status_report_receive(sender=sender, report=report)})


def _schema(kind: str, statuses: str) -> Any:
    return extend_schema(
        request=StatusReportIn,
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADERS[kind],
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="HMAC-SHA256 of `<t>.<raw body>` with the sender's secret: "
                "`t=<unix time>,v1=<hex>` (tolerance 300 s either way).",
            )
        ],
        responses={200: StatusReportOut, **error_responses(400, 403, 404, 413)},
        summary=f"Status report from a {kind} (signed)",
        description=f"A {kind} reports {statuses}. Unsigned, wrongly signed, old or future "
        "reports are 403 and nothing is stored. Each event id counts once (a repeat is "
        "200 `duplicate`); a report behind the order is kept as `stale`; one ahead of it "
        "waits and applies when the order gets there. An unknown order is 404 (nothing "
        "stored: retry later).",
        auth=[],
    )


class PharmacyWebhookView(_StatusWebhookView):
    kind = "pharmacy"

    @_schema("pharmacy", "compounding, shipped (carrier and tracking number), exception or "
             "canceled, naming our order number")  # fmt: skip
    def post(self, request: Request, pharmacy_id: str) -> Response:
        return self.receive(request, str(pharmacy_id))


class CarrierWebhookView(_StatusWebhookView):
    kind = "carrier"

    @_schema("carrier", "out_for_delivery, delivered (who signed), exception or returned, "
             "naming the tracking number")  # fmt: skip
    def post(self, request: Request, code: str) -> Response:
        return self.receive(request, code)


urlpatterns: list[URLPattern] = [
    path(
        "webhooks/pharmacies/<uuid:pharmacy_id>",
        PharmacyWebhookView.as_view(),
        name="prescriptions-webhook-pharmacy",
    ),
    path(
        "webhooks/carriers/<slug:code>",
        CarrierWebhookView.as_view(),
        name="prescriptions-webhook-carrier",
    ),
]

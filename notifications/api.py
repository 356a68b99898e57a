from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsOpsAdmin, IsPatient, user_of
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_phi_read, audit_record
from core.api import StrictSerializer, error_responses
from notifications import selectors, services
from notifications.models import (
    CONSENT_CATEGORY_CHOICES,
    Category,
    Channel,
    Message,
    MessageStatus,
)
from notifications.sms import twilio as twilio_sms


class ConsentOut(serializers.Serializer):
    category = serializers.CharField()
    channel = serializers.CharField()
    granted = serializers.BooleanField()
    changed_at = serializers.DateTimeField()
    given_via = serializers.CharField(source="source", help_text="app, intake, sms_keyword...")
    wording = serializers.CharField()


class PreferencesOut(serializers.Serializer):
    consents = ConsentOut(many=True)
    sms_opted_out = serializers.BooleanField(
        help_text="The number on file replied STOP; reply START to resume texts."
    )


class ConsentChangeIn(StrictSerializer):
    category = serializers.ChoiceField(choices=CONSENT_CATEGORY_CHOICES)
    channel = serializers.ChoiceField(choices=Channel.choices)
    granted = serializers.BooleanField()


class PreferencesIn(StrictSerializer):
    consents = serializers.ListField(child=ConsentChangeIn(), allow_empty=False, max_length=6)


class PreferencesView(APIView):
    permission_classes = [IsPatient]

    def _body(self, request: Request) -> dict[str, Any]:
        user = user_of(request)
        audit_record(
            actor=user,
            action=AuditAction.READ,
            object_type="notifications.consent",
            object_id=str(user.public_id),
        )
        return PreferencesOut(
            {
                "consents": selectors.consents_of(user),
                "sms_opted_out": selectors.sms_opted_out(user),
            }
        ).data

    @extend_schema(
        responses={200: PreferencesOut, **error_responses(401, 403)},
        summary="My message consents and opt-out state",
    )
    def get(self, request: Request) -> Response:
        return Response(self._body(request))

    @extend_schema(
        request=PreferencesIn,
        responses={200: PreferencesOut, **error_responses(400, 401, 403)},
        summary="Grant or withdraw consent per category and channel",
    )
    def patch(self, request: Request) -> Response:
        data = PreferencesIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.consents_set(
            user=user_of(request),
            source="app",
            changes=[
                services.ConsentChange(**change) for change in data.validated_data["consents"]
            ],
        )
        return Response(self._body(request))


class MessageOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    recipient_id = serializers.UUIDField(source="recipient.public_id")

    class Meta:
        model = Message
        fields = [
            "id",
            "recipient_id",
            "channel",
            "category",
            "template_key",
            "status",
            "status_reason",
            "urgent",
            "send_at",
            "attempts",
            "provider_error_code",
            "created_at",
            "sent_at",
            "delivered_at",
            "failed_at",
            "canceled_at",
            "suppressed_at",
        ]


class MessageFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    template_key = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields: list[str] = []


@extend_schema(
    responses={200: MessageOut(many=True), **error_responses(400, 401, 403)},
    summary="Outbox for operations: template and status, never bodies",
)
class MessageListView(generics.ListAPIView):
    permission_classes = [IsOpsAdmin]
    serializer_class = MessageOut
    filterset_class = MessageFilter

    def get_queryset(self) -> Any:
        return selectors.messages_for_ops()

    def paginate_queryset(self, queryset: Any) -> Any:
        """The page shown is what was read: which patient got which care message is PHI,
        so every listed message is an audited read (one INSERT for the whole page, and one
        query for the patients it names)."""
        page = super().paginate_queryset(queryset)
        shown = list(queryset if page is None else page)
        patient_ids = selectors.message_patient_ids(shown)
        audit_phi_read(
            actor=user_of(self.request),
            objects=shown,
            patient_id_of=lambda message: patient_ids.get(message.pk),
        )
        return page


def _twilio_url(request: Request) -> str:
    """The URL Twilio signed: our configured public URL, not whatever Host we were sent."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


TWILIO_SIGNATURE = OpenApiParameter(
    "X-Twilio-Signature",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Twilio's signature of our public URL and the posted parameters; "
    "a missing or wrong one is 403.",
)


class TwilioWebhook(APIView):
    parser_classes = [FormParser]  # Twilio posts form-encoded bodies
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def verified_params(self, request: Request) -> dict[str, str] | None:
        params = {key: request.POST.get(key, "") for key in request.POST}
        signature = request.headers.get("X-Twilio-Signature", "")
        if twilio_sms.signature_is_valid(_twilio_url(request), params, signature):
            return params
        # A security event (who is forging texts or delivery reports?): the row has the IP.
        audit_record(
            actor=None,
            action=AuditAction.WEBHOOK_REJECTED,
            object_type="notifications.twilio_webhook",
            outcome=AuditOutcome.DENIED,
            detail={"reason": "invalid_signature"},
        )
        return None


class TwilioInboundView(TwilioWebhook):
    @extend_schema(
        request=None,
        responses={
            (200, "text/xml"): OpenApiResponse(OpenApiTypes.STR, description="TwiML reply."),
            403: OpenApiResponse(description="Missing or wrong signature; no body."),
        },
        parameters=[TWILIO_SIGNATURE],
        auth=[],
        summary="Twilio inbound SMS webhook (signed)",
    )
    def post(self, request: Request) -> HttpResponse:
        params = self.verified_params(request)
        if params is None:
            return HttpResponse(status=403)
        incoming = twilio_sms.incoming_sms(params)
        reply = services.inbound_sms_receive(
            provider_message_id=incoming.provider_message_id,
            from_phone=incoming.from_phone,
            body=incoming.body,
        )
        return HttpResponse(twilio_sms.twiml_message(reply), content_type="text/xml")


class TwilioStatusView(TwilioWebhook):
    @extend_schema(
        request=None,
        responses={204: None, 403: None},
        parameters=[TWILIO_SIGNATURE],
        auth=[],
        summary="Twilio delivery status callback (signed)",
    )
    def post(self, request: Request) -> HttpResponse:
        params = self.verified_params(request)
        if params is None:
            return HttpResponse(status=403)
        report = twilio_sms.delivery_report(params, query=request.GET)
        services.message_status_report(
            message_id=report.message_id,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error_code=report.error_code,
            number_flag=report.number_flag,
            to_phone=report.to_phone,
            attempt=report.attempt,
        )
        return HttpResponse(status=204)

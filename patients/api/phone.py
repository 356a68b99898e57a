"""Phone ownership: the signed-in patient asks for a code by SMS and enters it."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.permissions import IsPatient, user_of
from core.api import StrictSerializer, error_responses
from core.throttling import UserRateThrottle
from patients.services.phone import phone_verification_confirm, phone_verification_send


class PhoneCodeIn(StrictSerializer):
    code = serializers.RegexField(r"^[0-9]{6}$", help_text="The 6-digit code from the text.")


class PhoneVerifiedOut(serializers.Serializer):
    phone_verified_at = serializers.DateTimeField()


class PhoneVerifySendView(APIView):
    permission_classes = [IsPatient]
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "phone_verify"

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409, 429)},
        summary="Text a 6-digit code to my phone on file (valid 10 minutes)",
    )
    def post(self, request: Request) -> Response:
        phone_verification_send(user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneVerifyView(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        request=PhoneCodeIn,
        responses={200: PhoneVerifiedOut, **error_responses(400, 401, 403, 404, 429)},
        summary="Prove I hold my phone with the texted code; 5 wrong codes end that code",
    )
    def post(self, request: Request) -> Response:
        data = PhoneCodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = phone_verification_confirm(
            user=user_of(request), code=data.validated_data["code"]
        )
        return Response(PhoneVerifiedOut(patient).data)


urlpatterns = [
    path(
        "patients/me/phone/verify/send",
        PhoneVerifySendView.as_view(),
        name="patient-phone-verify-send",
    ),
    path("patients/me/phone/verify", PhoneVerifyView.as_view(), name="patient-phone-verify"),
]

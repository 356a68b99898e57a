from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from accounts.models import AuthSession
from accounts.permissions import IsAuthenticatedPendingMfa, session_of, user_of
from accounts.selectors import physician_with_credentials
from accounts.services.mfa import mfa_enroll_confirm, mfa_enroll_start, mfa_verify
from accounts.services.passwords import (
    password_change,
    password_reset_confirm,
    password_reset_request,
)
from accounts.services.registration import email_verification_resend, email_verify, patient_register
from accounts.services.sessions import (
    IssuedTokens,
    auth_login,
    auth_logout,
    auth_refresh,
    session_mfa_required,
)
from audit.models import AuditAction
from audit.services import audit_write
from core.api import StrictSerializer, error_responses


class RegisterThrottle(AnonRateThrottle):
    scope = "register"


class CredentialsIn(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokensOut(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()
    mfa = serializers.ChoiceField(
        choices=["not_required", "required", "enrollment_required", "verified"]
    )


def _mfa_state(session: AuthSession) -> str:
    if not session_mfa_required(session):
        return "not_required"
    if session.mfa_verified_at:
        return "verified"
    enrolled = hasattr(session.user, "totp_device") and session.user.totp_device.confirmed_at
    return "required" if enrolled else "enrollment_required"


def _tokens_response(tokens: IssuedTokens, status_code: int = 200) -> Response:
    session = tokens.session
    body = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_expires_at": session.access_expires_at,
        "refresh_expires_at": session.refresh_expires_at,
        "mfa": _mfa_state(session),
    }
    return Response(TokensOut(body).data, status=status_code, headers={"Cache-Control": "no-store"})


class DetailOut(serializers.Serializer):
    detail = serializers.CharField()


CHECK_EMAIL = "Check your email to continue."


def _check_email_response() -> Response:
    """The one answer of the endpoints that must not reveal whether an email has an account."""
    return Response({"detail": CHECK_EMAIL}, status=status.HTTP_202_ACCEPTED)


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=CredentialsIn,
        responses={202: DetailOut, **error_responses(400, 413, 429)},
        summary="Register as a patient; then confirm the email and sign in",
        description=(
            "Answers the same whether or not the email already has an account (that "
            "account's owner gets an email saying someone tried). A new account gets an "
            "email with its verification link. No tokens: sign in with POST /api/auth/login."
        ),
    )
    def post(self, request: Request) -> Response:
        data = CredentialsIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient_register(**data.validated_data)
        return _check_email_response()


class TokenIn(StrictSerializer):
    token = serializers.CharField(max_length=512)


class EmailVerifyView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        request=TokenIn,
        responses={204: None, **error_responses(400, 429)},
        summary="Confirm the email address with the token from the emailed link",
    )
    def post(self, request: Request) -> Response:
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        email_verify(token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyResendView(APIView):
    @extend_schema(
        request=None,
        responses={202: DetailOut, **error_responses(401, 403, 409, 429)},
        summary="Email a new verification link to the signed-in user",
    )
    def post(self, request: Request) -> Response:
        email_verification_resend(user=user_of(request))
        return _check_email_response()


class PasswordChangeIn(StrictSerializer):
    current_password = serializers.CharField(max_length=256, trim_whitespace=False)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


class PasswordChangeView(APIView):
    @extend_schema(
        request=PasswordChangeIn,
        responses={204: None, **error_responses(400, 401, 403, 429)},
        summary="Change the password; the user's other sessions end",
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        password_change(session=session_of(request), **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetIn(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        request=PasswordResetIn,
        responses={202: DetailOut, **error_responses(400, 413, 429)},
        summary="Email a password reset link (same answer whether or not the email is known)",
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_request(email=data.validated_data["email"])
        return _check_email_response()


class PasswordResetConfirmIn(StrictSerializer):
    token = serializers.CharField(max_length=512)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


class PasswordResetConfirmView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "password_reset"

    @extend_schema(
        request=PasswordResetConfirmIn,
        responses={204: None, **error_responses(400, 413, 429)},
        summary="Set a new password with the emailed token (single use, 30 minutes); "
        "every session of the user ends",
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=CredentialsIn,
        responses={200: TokensOut, **error_responses(400, 401, 413, 429)},
        summary="Sign in; staff then verify (or enroll) MFA before the token works",
    )
    def post(self, request: Request) -> Response:
        data = CredentialsIn(data=request.data)
        data.is_valid(raise_exception=True)
        return _tokens_response(auth_login(**data.validated_data))


class RefreshIn(StrictSerializer):
    refresh_token = serializers.CharField(max_length=128)


class RefreshView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=RefreshIn,
        responses={200: TokensOut, **error_responses(400, 401)},
        summary="Exchange a refresh token for a new token pair (the old pair stops working)",
    )
    def post(self, request: Request) -> Response:
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        return _tokens_response(auth_refresh(**data.validated_data))


class LogoutView(APIView):
    permission_classes = [IsAuthenticatedPendingMfa]

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(401)},
        summary="Revoke this session's tokens",
    )
    def post(self, request: Request) -> Response:
        auth_logout(session=session_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnrollOut(serializers.Serializer):
    secret = serializers.CharField()
    provisioning_uri = serializers.CharField(help_text="otpauth:// URI to render as a QR code")


class EnrollIn(StrictSerializer):
    enrollment_token = serializers.CharField(
        max_length=128,
        required=False,
        default="",
        help_text="Required for staff: the single-use token an administrator handed over.",
    )


class MfaEnrollView(APIView):
    permission_classes = [IsAuthenticatedPendingMfa]

    @extend_schema(
        request=EnrollIn,
        responses={201: EnrollOut, **error_responses(400, 401, 409)},
        summary="Start TOTP enrollment (staff present their enrollment token)",
    )
    def post(self, request: Request) -> Response:
        data = EnrollIn(data=request.data)
        data.is_valid(raise_exception=True)
        # Someone with a session that has not passed MFA must not replace a confirmed device;
        # the service refuses once a device is confirmed.
        secret, uri = mfa_enroll_start(
            session=session_of(request), enrollment_token=data.validated_data["enrollment_token"]
        )
        return Response(
            EnrollOut({"secret": secret, "provisioning_uri": uri}).data,
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )


class CodeIn(StrictSerializer):
    code = serializers.CharField(max_length=32)


class MfaConfirmView(APIView):
    permission_classes = [IsAuthenticatedPendingMfa]

    @extend_schema(
        request=CodeIn,
        responses={
            200: inline_serializer(
                "RecoveryCodes",
                {"recovery_codes": serializers.ListField(child=serializers.CharField())},
            ),
            **error_responses(400, 401, 409, 429),
        },
        summary="Confirm TOTP enrollment with a first code; returns one-time recovery codes",
    )
    def post(self, request: Request) -> Response:
        data = CodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa_enroll_confirm(session=session_of(request), code=data.validated_data["code"])
        return Response({"recovery_codes": codes}, headers={"Cache-Control": "no-store"})


class MfaVerifyView(APIView):
    permission_classes = [IsAuthenticatedPendingMfa]

    @extend_schema(
        request=CodeIn,
        responses={204: None, **error_responses(400, 401, 409, 429)},
        summary="Verify a TOTP or recovery code for this session",
    )
    def post(self, request: Request) -> Response:
        data = CodeIn(data=request.data)
        data.is_valid(raise_exception=True)
        mfa_verify(session=session_of(request), code=data.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class LicenseOut(serializers.Serializer):
    state = serializers.CharField()
    number = serializers.CharField()
    status = serializers.CharField()
    expires_on = serializers.DateField()


class DeaOut(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.CharField()
    schedules = serializers.ListField(child=serializers.CharField())
    expires_on = serializers.DateField()
    verification = serializers.CharField()


class PhysicianOut(serializers.Serializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    npi = serializers.CharField()
    licenses = LicenseOut(many=True)
    dea_registrations = DeaOut(many=True)


class MeOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField()
    role = serializers.CharField()
    date_joined = serializers.DateTimeField()


class MeDocumented(MeOut):
    physician = PhysicianOut(required=False, help_text="Present for physicians only.")


class MeView(APIView):
    @extend_schema(
        responses={200: MeDocumented, **error_responses(401, 403)}, summary="The signed-in user"
    )
    def get(self, request: Request) -> Response:
        user = user_of(request)
        # A plain dict, not MeOut(user).data: building a serializer costs more than the rest
        # of this hot endpoint together (see benchmarks/); MeOut documents the same shape.
        body: dict[str, Any] = {
            "id": user.public_id,
            "email": user.email,
            "role": user.role,
            "date_joined": user.date_joined,
        }
        if user.role == "physician":
            body["physician"] = PhysicianOut(physician_with_credentials(user.pk)).data
        audit_write(user, actor=user, action=AuditAction.READ)
        return Response(body)

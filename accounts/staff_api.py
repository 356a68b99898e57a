"""Staff accounts, for a user holding the `credentialing` permission on a session that has
passed MFA: invite a staff member, issue their MFA enrollment token, reset their MFA after
a lost device. Tokens are shown once. Anyone else gets 403 before any lookup, so only a
credentialing user learns which ids are staff (another id is 404 to them)."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import CREDENTIALING_PERMISSION, STAFF_ROLES
from accounts.permissions import IsAuthenticatedWithMfa, MfaRequired, session_of, user_of
from accounts.services.mfa import (
    EnrollmentToken,
    staff_enrollment_token_issue,
    staff_invite_by,
    staff_mfa_reset,
)
from core.api import StrictSerializer, error_responses
from core.text import PlainTextField


class IsCredentialing(IsAuthenticatedWithMfa):
    """Holds `credentialing`, on a session that has passed MFA whatever the role."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if session_of(request).mfa_verified_at is None:
            raise MfaRequired()
        return user_of(request).has_perm(CREDENTIALING_PERMISSION)


class EnrollmentTokenOut(serializers.Serializer):
    user = serializers.UUIDField(source="user.public_id", help_text="The staff member's id")
    enrollment_token = serializers.CharField(
        help_text="Shown once: hand it over out of band; it works once, with their password."
    )
    expires_at = serializers.DateTimeField()


def _token_response(issued: EnrollmentToken, status_code: int) -> Response:
    body = {
        "user": issued.user.public_id,
        "enrollment_token": issued.token,
        "expires_at": issued.expires_at,
    }
    return Response(body, status=status_code)  # no-store: core.middleware, every /api/ answer


class StaffInvitationIn(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=sorted(STAFF_ROLES))


class StaffInvitationView(APIView):
    permission_classes = [IsCredentialing]

    @extend_schema(
        request=StaffInvitationIn,
        responses={201: EnrollmentTokenOut, **error_responses(400, 401, 403, 409)},
        summary="Invite a staff member: their MFA enrollment token (shown once)",
        description=(
            "Creates the account for a role that needs no credentials (a physician's comes "
            "from credentialing first); its owner chooses a password through the emailed "
            "reset link, which is never shown here. An existing account keeps its role and "
            "gets a new token. Credentialing users only, never for themselves."
        ),
    )
    def post(self, request: Request) -> Response:
        data = StaffInvitationIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued = staff_invite_by(actor=user_of(request), **data.validated_data)
        return _token_response(issued, status.HTTP_201_CREATED)


class StaffEnrollmentTokenView(APIView):
    permission_classes = [IsCredentialing]

    @extend_schema(
        request=None,
        responses={201: EnrollmentTokenOut, **error_responses(401, 403, 404)},
        summary="A new MFA enrollment token for a staff member (shown once; earlier unused "
        "ones stop working)",
    )
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        issued = staff_enrollment_token_issue(actor=user_of(request), staff_public_id=public_id)
        return _token_response(issued, status.HTTP_201_CREATED)


class MfaResetIn(StrictSerializer):
    reason = PlainTextField(max_length=500, help_text="Why (kept in the audit log)")


class StaffMfaResetView(APIView):
    permission_classes = [IsCredentialing]

    @extend_schema(
        request=MfaResetIn,
        responses={200: EnrollmentTokenOut, **error_responses(400, 401, 403, 404)},
        summary="Reset a staff member's MFA after a lost device",
        description=(
            "Removes their authenticator and recovery codes, ends every session of theirs, "
            "audits it with the reason and returns a new enrollment token (shown once)."
        ),
    )
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        data = MfaResetIn(data=request.data)
        data.is_valid(raise_exception=True)
        issued = staff_mfa_reset(
            actor=user_of(request), staff_public_id=public_id, **data.validated_data
        )
        return _token_response(issued, status.HTTP_200_OK)

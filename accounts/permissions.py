from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import AuthSession, Role, User
from accounts.services.sessions import session_mfa_required


def session_of(request: Request) -> AuthSession:
    """The AuthSession behind a request that passed one of the permissions below."""
    assert isinstance(request.auth, AuthSession)
    return request.auth


def user_of(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


class MfaRequired(exceptions.PermissionDenied):
    default_detail = "Complete multi-factor authentication first."
    default_code = "mfa_required"


class IsAuthenticatedPendingMfa(BasePermission):
    """A live session, whether or not MFA is done yet (MFA enrollment and verification)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, AuthSession)


class IsAuthenticatedWithMfa(BasePermission):
    """The default: a live session that has passed MFA where MFA applies, by the user's
    role at this request (not at sign-in)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        session = request.auth
        if not isinstance(session, AuthSession):
            return False
        if session.mfa_verified_at is None and session_mfa_required(session):
            raise MfaRequired()
        return True


def _role_permission(*roles: str) -> type[BasePermission]:
    class HasRole(IsAuthenticatedWithMfa):
        def has_permission(self, request: Request, view: Any) -> bool:
            return super().has_permission(request, view) and user_of(request).role in roles

    HasRole.__name__ = "Is" + "Or".join(role.title().replace("_", "") for role in roles)
    return HasRole


IsPatient = _role_permission(Role.PATIENT)
IsPhysician = _role_permission(Role.PHYSICIAN)
IsOpsAdmin = _role_permission(Role.OPS_ADMIN)
IsStaff = _role_permission(Role.PHYSICIAN, Role.OPS_ADMIN)

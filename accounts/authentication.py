from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import AuthSession, User
from accounts.services.sessions import session_authenticate
from core.errors import NotAuthenticated


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token>`; request.auth is the AuthSession."""

    def authenticate(self, request: Request) -> tuple[User, AuthSession] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed(
                "Use the header `Authorization: Bearer <access token>`.", code="invalid_header"
            )
        try:
            session = session_authenticate(token=token.strip())
        except NotAuthenticated as exc:
            # DRF's own error, so that the 401 carries the WWW-Authenticate challenge.
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return session.user, session

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}

"""Sessions: sign-in, the bearer token check on every request, refresh, logout, and the
idle timeout for staff. Tokens are random and stored only as SHA-256 digests."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuthSession, TotpDevice, User
from accounts.services.registration import normalize_email
from accounts.services.throttling import (
    login_attempt_begin,
    login_attempt_succeeded,
    login_failure_record,
)
from audit import context
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import NotAuthenticated


@dataclass(frozen=True)
class IssuedTokens:
    session: AuthSession
    access_token: str
    refresh_token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tokens_new(session: AuthSession) -> IssuedTokens:
    """Give `session` a fresh token pair (not saved); the tokens exist in clear only here."""
    now = timezone.now()
    access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.access_digest = token_digest(access_token)
    session.refresh_digest = token_digest(refresh_token)
    session.access_expires_at = now + settings.ACCESS_TOKEN_TTL
    session.refresh_expires_at = now + settings.REFRESH_TOKEN_TTL
    session.last_seen_at = now
    return IssuedTokens(session, access_token, refresh_token)


def auth_session_issue(
    *,
    user: User,
    mfa_required: bool,
    mfa_verified_at: datetime | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> IssuedTokens:
    """Start a session for `user` and return its tokens (never stored in clear).

    No check and no audit row: auth_login calls it once the password is checked and audits
    the sign-in; tests and benchmarks call it to sign their actors in directly."""
    tokens = _tokens_new(
        AuthSession(
            user=user,
            mfa_required=mfa_required,
            mfa_verified_at=mfa_verified_at,
            ip=ip,
            user_agent=user_agent,
        )
    )
    tokens.session.save(force_insert=True)
    return tokens


def _mfa_required(user: User) -> bool:
    return (
        user.is_staff_role
        or TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    )


def auth_login(*, email: str, password: str) -> IssuedTokens:
    email = normalize_email(email)
    ctx = context.current()
    login_attempt_begin(email=email, ip=ctx.ip)
    user = authenticate(None, email=email, password=password)
    if not isinstance(user, User):
        login_failure_record(email=email)
        raise NotAuthenticated("Email or password is incorrect.", code="invalid_credentials")
    login_attempt_succeeded(email=email, ip=ctx.ip)
    with transaction.atomic():
        tokens = auth_session_issue(
            user=user, mfa_required=_mfa_required(user), ip=ctx.ip, user_agent=ctx.user_agent
        )
        audit_write(tokens.session, actor=user, action=AuditAction.LOGIN)
    return tokens


def session_is_idle(session: AuthSession, now: datetime) -> bool:
    return session.user.is_staff_role and now - session.last_seen_at > settings.STAFF_IDLE_TIMEOUT


@functools.cache
def _session_query() -> tuple[str, list[str], list[str]]:
    session_fields = AuthSession._meta.concrete_fields
    user_fields = User._meta.concrete_fields
    select = ", ".join(
        [f's."{f.column}"' for f in session_fields] + [f'u."{f.column}"' for f in user_fields]
    )
    # Identifiers come from model metadata; the token digest is a bound parameter.
    sql = (
        f"SELECT {select} FROM {AuthSession._meta.db_table} s "  # noqa: S608
        f"JOIN {User._meta.db_table} u ON u.id = s.user_id WHERE s.access_digest = %s"
    )
    return sql, [f.attname for f in session_fields], [f.attname for f in user_fields]


def _session_by_access_digest(digest: str) -> AuthSession | None:
    """One hand-written query: this runs on every authenticated request, and building the
    equivalent ORM query costs several times the database round trip (see benchmarks/)."""
    sql, session_names, user_names = _session_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    session = AuthSession.from_db("default", session_names, row[: len(session_names)])
    session.user = User.from_db("default", user_names, row[len(session_names) :])
    return session


def session_authenticate(*, token: str) -> AuthSession:
    """The live session behind an access token, or NotAuthenticated with the reason
    (invalid_token, token_expired, session_idle).

    Also ends idle staff sessions and keeps last_seen_at current (at most once a minute)."""
    now = timezone.now()
    session = _session_by_access_digest(token_digest(token))
    if session is None or session.revoked_at is not None or not session.user.is_active:
        raise NotAuthenticated("The access token is not valid.", code="invalid_token")
    if session.access_expires_at <= now:
        raise NotAuthenticated("The access token has expired.", code="token_expired")
    if session_is_idle(session, now):
        _end_idle_session(session, now)
        raise NotAuthenticated("Signed out after inactivity.", code="session_idle")
    if now - session.last_seen_at > settings.SESSION_TOUCH_INTERVAL:
        AuthSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def _end_idle_session(session: AuthSession, now: datetime) -> None:
    """Revoke a staff session that sat idle too long, and say so in the audit log."""
    AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(revoked_at=now)
    audit_write(session, actor=session.user, action=AuditAction.LOGOUT, detail={"reason": "idle"})


def auth_refresh(*, refresh_token: str) -> IssuedTokens:
    now = timezone.now()
    with transaction.atomic():
        session = (
            AuthSession.objects.select_for_update()
            .select_related("user")
            .filter(refresh_digest=token_digest(refresh_token), revoked_at__isnull=True)
            .first()
        )
        if session is None or session.refresh_expires_at <= now or not session.user.is_active:
            raise NotAuthenticated("The refresh token is not valid.", code="invalid_refresh_token")
        idle = session_is_idle(session, now)
        if not idle:
            tokens = _tokens_new(session)
            session.save(
                update_fields=[
                    "access_digest",
                    "refresh_digest",
                    "access_expires_at",
                    "refresh_expires_at",
                    "last_seen_at",
                ]
            )
            audit_write(
                session, actor=session.user, action=AuditAction.LOGIN, detail={"step": "refresh"}
            )
    if idle:  # outside the transaction, so the revocation is not rolled back by the error
        _end_idle_session(session, now)
        raise NotAuthenticated("Signed out after inactivity.", code="session_idle")
    return tokens


@transaction.atomic
def auth_logout(*, session: AuthSession) -> None:
    AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_write(session, actor=session.user, action=AuditAction.LOGOUT)

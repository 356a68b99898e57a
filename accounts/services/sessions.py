"""Sessions: sign-in, the bearer token check on every request, refresh, logout, the idle
timeout for staff and the absolute lifetime for everyone. Tokens are random and stored
only as SHA-256 digests.

Whether a session needs MFA is decided on every request from the user's current role (and
whether they enrolled an authenticator), never by a flag fixed at sign-in. A session lives
at most SESSION_ABSOLUTE_TTL_* (by the user's current role) from sign-in, whatever the
refreshes; a refresh token presented again after it was exchanged revokes the session."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg.types.datetime import TimestamptzLoader

from accounts.models import AuthSession, RotatedRefreshToken, TotpDevice, User, normalize_email
from accounts.services.throttling import (
    login_attempt_begin,
    login_attempt_succeeded,
    login_failure_record,
)
from audit import context
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, audit_write
from core.errors import NotAuthenticated


@dataclass(frozen=True)
class IssuedTokens:
    session: AuthSession
    access_token: str
    refresh_token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_absolute_expiry(session: AuthSession) -> datetime:
    """When the session ends whatever its refreshes: by the user's current role, so a
    patient who becomes staff gets the staff lifetime at once."""
    if session.user.is_staff_role:
        return session.created_at + settings.SESSION_ABSOLUTE_TTL_STAFF
    return session.created_at + settings.SESSION_ABSOLUTE_TTL_PATIENT


def session_mfa_required(session: AuthSession) -> bool:
    """Whether the session must pass MFA: staff by their current role, anyone else once they
    have enrolled an authenticator. The request path gets the enrollment with the session
    (session_authenticate); other callers pay one query."""
    if session.user.is_staff_role:
        return True
    enrolled = session.mfa_enrolled
    if enrolled is None:
        enrolled = TotpDevice.objects.filter(
            user_id=session.user_id, confirmed_at__isnull=False
        ).exists()
        session.mfa_enrolled = enrolled
    return enrolled


def _tokens_new(session: AuthSession) -> IssuedTokens:
    """Give `session` a fresh token pair (not saved); the tokens exist in clear only here.
    Neither token outlives the session's absolute lifetime."""
    now = timezone.now()
    end = session_absolute_expiry(session)
    access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.access_digest = token_digest(access_token)
    session.refresh_digest = token_digest(refresh_token)
    session.access_expires_at = min(now + settings.ACCESS_TOKEN_TTL, end)
    session.refresh_expires_at = min(now + settings.REFRESH_TOKEN_TTL, end)
    session.last_seen_at = now
    return IssuedTokens(session, access_token, refresh_token)


def auth_session_issue(
    *,
    user: User,
    mfa_verified_at: datetime | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> IssuedTokens:
    """Start a session for `user` and return its tokens (never stored in clear).

    No check and no audit row: auth_login calls it once the password is checked and audits
    the sign-in; tests and benchmarks call it to sign their actors in directly."""
    tokens = _tokens_new(
        AuthSession(user=user, mfa_verified_at=mfa_verified_at, ip=ip, user_agent=user_agent)
    )
    tokens.session.save(force_insert=True)
    return tokens


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
        tokens = auth_session_issue(user=user, ip=ctx.ip, user_agent=ctx.user_agent)
        audit_write(tokens.session, actor=user, action=AuditAction.LOGIN)
    return tokens


def session_is_idle(session: AuthSession, now: datetime) -> bool:
    return session.user.is_staff_role and now - session.last_seen_at > settings.STAFF_IDLE_TIMEOUT


@functools.cache
def _session_query() -> tuple[str, list[str], list[str]]:
    session_fields = AuthSession._meta.concrete_fields
    user_fields = User._meta.concrete_fields
    device = TotpDevice._meta
    select = ", ".join(
        [f's."{f.column}"' for f in session_fields] + [f'u."{f.column}"' for f in user_fields]
    )
    # Identifiers come from model metadata; the token digest is a bound parameter. The
    # EXISTS reads the one-per-user device through its unique index (session_mfa_required).
    sql = (
        f"SELECT {select}, EXISTS (SELECT 1 FROM {device.db_table} d "  # noqa: S608
        f'WHERE d."{device.get_field("user").column}" = u.id '
        f'AND d."{device.get_field("confirmed_at").column}" IS NOT NULL) '
        f"FROM {AuthSession._meta.db_table} s "
        f"JOIN {User._meta.db_table} u ON u.id = s.user_id WHERE s.access_digest = %s"
    )
    return sql, [f.attname for f in session_fields], [f.attname for f in user_fields]


def _session_by_access_digest(digest: str) -> AuthSession | None:
    """One hand-written query: this runs on every authenticated request, and building the
    equivalent ORM query costs several times the database round trip (see benchmarks/)."""
    sql, session_names, user_names = _session_query()
    with connection.cursor() as cursor:
        # psycopg's own timestamptz loader (C), not Django's Python subclass of it, which
        # only relabels the same instant with the connection's zone (UTC): the row's six
        # or so timestamps, on every request.
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    user_end = len(session_names) + len(user_names)
    session = AuthSession.from_db("default", session_names, row[: len(session_names)])
    # Raw values, so the encrypted ones (the email) go through their fields' from_db_value.
    raw_user = row[len(session_names) : user_end]
    user_values = [
        value if (convert := getattr(field, "from_db_value", None)) is None
        else convert(value, None, connection)
        for value, field in zip(raw_user, User._meta.concrete_fields, strict=True)
    ]  # fmt: skip
    session.user = User.from_db("default", user_names, user_values)
    session.mfa_enrolled = bool(row[user_end])
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
    if session_absolute_expiry(session) <= now:
        raise NotAuthenticated("The session has ended; sign in again.", code="session_expired")
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


def _refresh_refusal(session: AuthSession, now: datetime) -> str | None:
    """Why a session's current refresh token cannot be exchanged now, if it cannot."""
    if session.revoked_at is not None:
        return "revoked"
    if not session.user.is_active:
        return "inactive"
    if session.refresh_expires_at <= now or session_absolute_expiry(session) <= now:
        return "expired"
    if session_is_idle(session, now):
        return "idle"
    return None


def _refresh_refused(reason: str, session: AuthSession | None) -> NotAuthenticated:
    """Audit a refused refresh (a security event, with the caller's IP) and return the
    error to raise. Called outside any transaction the error would roll back."""
    detail = {"step": "refresh", "reason": reason}
    if session is None:
        audit_record(
            actor=None,
            action=AuditAction.LOGIN_FAILED,
            outcome=AuditOutcome.DENIED,
            object_type=AuthSession._meta.label_lower,
            detail=detail,
        )
    else:
        audit_write(
            session,
            actor=session.user,
            action=AuditAction.LOGIN_FAILED,
            outcome=AuditOutcome.DENIED,
            detail=detail,
        )
    return NotAuthenticated("The refresh token is not valid.", code="invalid_refresh_token")


def _refresh_reused(digest: str, now: datetime) -> AuthSession | None:
    """The session whose already-exchanged refresh token this is, revoked: someone else
    holds (or held) its tokens, and we cannot tell which party is the user."""
    rotated = RotatedRefreshToken.objects.select_related("session__user").filter(digest=digest)
    found = rotated.first()
    if found is None:
        return None
    AuthSession.objects.filter(pk=found.session_id, revoked_at__isnull=True).update(revoked_at=now)
    return found.session


def auth_refresh(*, refresh_token: str) -> IssuedTokens:
    """Exchange a refresh token for a new pair. The old refresh token's digest is kept, so
    presenting it again revokes the whole session (reuse detection)."""
    now = timezone.now()
    digest = token_digest(refresh_token)
    with transaction.atomic():
        session = (
            AuthSession.objects.select_for_update()
            .select_related("user")
            .filter(refresh_digest=digest)
            .first()
        )
        refusal = "unknown" if session is None else _refresh_refusal(session, now)
        if session is not None and refusal is None:
            RotatedRefreshToken.objects.create(session=session, digest=digest, rotated_at=now)
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
            return tokens
    # Outside the transaction, so the revocations and audit rows are not rolled back.
    if session is None:
        reused = _refresh_reused(digest, now)
        raise _refresh_refused("reused" if reused else "unknown", reused)
    if refusal == "idle":
        _end_idle_session(session, now)
        raise NotAuthenticated("Signed out after inactivity.", code="session_idle")
    raise _refresh_refused(str(refusal), session)


def user_sessions_revoke(*, user: User, actor: User | None, reason: str) -> int:
    """Revoke every live session of `user` (one audit row naming the reason); how many."""
    revoked = AuthSession.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_write(
        user,
        actor=actor,
        action=AuditAction.LOGOUT,
        detail={"reason": reason, "sessions": revoked},
    )
    return revoked


def user_sessions_revoke_others(*, session: AuthSession, reason: str) -> int:
    """Revoke every live session of the session's user except `session` itself (a password
    change keeps the device that made it signed in); one audit row; how many."""
    revoked = (
        AuthSession.objects.filter(user_id=session.user_id, revoked_at__isnull=True)
        .exclude(pk=session.pk)
        .update(revoked_at=timezone.now())
    )
    audit_write(
        session.user,
        actor=session.user,
        action=AuditAction.LOGOUT,
        detail={"reason": reason, "sessions": revoked, "kept": "current"},
    )
    return revoked


@transaction.atomic
def auth_sessions_revoke(*, actor: User, sessions: QuerySet[AuthSession]) -> int:
    """End sessions on staff request (the admin's "revoke" action); already revoked ones
    stay as they are. Returns how many were revoked."""
    now = timezone.now()
    revoked = list(sessions.filter(revoked_at__isnull=True).select_for_update())
    for session in revoked:
        session.revoked_at = now
        audit_write(session, actor=actor, action=AuditAction.LOGOUT, detail={"revoked": True})
    AuthSession.objects.filter(pk__in=[s.pk for s in revoked]).update(revoked_at=now)
    return len(revoked)


@transaction.atomic
def auth_logout(*, session: AuthSession) -> None:
    AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_write(session, actor=session.user, action=AuditAction.LOGOUT)

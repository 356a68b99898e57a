"""Failed sign-in and MFA attempts: counted per account and per IP address, and audited.

The API (accounts.services.sessions, accounts.services.mfa) and the Django admin's sign-in
form (accounts.admin) both count here, so one limit covers both doors. An attempt is
counted before the password or code is checked, so parallel guesses cannot slip past the
limit; a success gives the attempt back."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from accounts.models import AuthSession, User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, audit_write
from core.crypto import keyed_hash
from core.errors import TooManyRequests


def _login_keys(email: str, ip: str | None) -> tuple[str, str]:
    return (
        f"login-fail:acct:{keyed_hash(email, purpose='login-throttle')}",
        f"login-fail:ip:{ip or 'unknown'}",
    )


def _mfa_key(user: User) -> str:
    return f"mfa-attempts:{user.pk}"


def _window() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW.total_seconds())


def _count(key: str) -> int:
    cache.add(key, 0, timeout=_window())
    return int(cache.incr(key))


def login_attempt_begin(*, email: str, ip: str | None) -> None:
    """Count a sign-in attempt; TooManyRequests once the account or the IP is over its limit."""
    account_key, ip_key = _login_keys(email, ip)
    if (
        _count(account_key) > settings.LOGIN_FAILURES_PER_ACCOUNT
        or _count(ip_key) > settings.LOGIN_FAILURES_PER_IP
    ):
        raise TooManyRequests(
            "Too many failed sign-in attempts. Try again later.",
            code="login_throttled",
            retry_after=_window(),
        )


def login_attempt_succeeded(*, email: str, ip: str | None) -> None:
    account_key, ip_key = _login_keys(email, ip)
    cache.delete(account_key)
    if cache.get(ip_key, 0) > 0:
        cache.decr(ip_key)


def login_failure_record(*, email: str, surface: str = "api") -> None:
    """Audit a failed sign-in (against the user, if the email is known)."""
    known = User.objects.filter(email=email).first()
    detail = {"surface": surface}
    if known is None:
        audit_record(
            actor=None,
            action=AuditAction.LOGIN_FAILED,
            outcome=AuditOutcome.DENIED,
            object_type=User._meta.label_lower,
            detail=detail,
        )
        return
    audit_write(
        known,
        actor=known,
        action=AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.DENIED,
        detail=detail,
    )


def mfa_attempt_begin(*, user: User) -> None:
    """Count a code attempt before the code is checked (see login_attempt_begin)."""
    if _count(_mfa_key(user)) > settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise TooManyRequests(
            "Too many wrong codes. Try again later.",
            code="mfa_throttled",
            retry_after=_window(),
        )


def mfa_attempt_succeeded(*, user: User) -> None:
    cache.delete(_mfa_key(user))


def mfa_failure_record(*, user: User, surface: str, session: AuthSession | None = None) -> None:
    """Audit a wrong code, against the API session it was sent for (the admin has none)."""
    detail = {"surface": surface}
    if session is None:
        audit_record(
            actor=user,
            action=AuditAction.MFA_FAILED,
            outcome=AuditOutcome.DENIED,
            object_type=AuthSession._meta.label_lower,
            detail=detail,
        )
        return
    audit_write(
        session,
        actor=user,
        action=AuditAction.MFA_FAILED,
        outcome=AuditOutcome.DENIED,
        detail=detail,
    )

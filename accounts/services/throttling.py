"""Failed sign-in and MFA attempts: counted, throttled and audited.

The API (accounts.services.sessions, accounts.services.mfa) and the Django admin's sign-in
form (accounts.admin) both count here, so one limit covers both doors. An attempt is
counted before the password or code is checked, so parallel guesses cannot slip past the
limit; a success gives back only its own attempt.

Sign-ins are limited per (account, IP) and per IP, never per account alone: failures
from an attacker's addresses must not keep a physician out. Past a soft cap of failures on
one account from everywhere, each IP waits a growing delay between its attempts on that
account (429 with Retry-After for that IP only)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from accounts.models import AuthSession, User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, audit_write
from core.crypto import keyed_hash
from core.errors import TooManyRequests
from core.throttling import window_count


def _login_keys(email: str, ip: str | None) -> tuple[str, str, str]:
    """The keys of the account's failures from everywhere, from this IP, and of the IP's."""
    account = keyed_hash(email, purpose="login-throttle")
    address = ip or "unknown"
    return (
        f"login-fail:acct:{account}",
        f"login-fail:acct-ip:{account}:{address}",
        f"login-fail:ip:{address}",
    )


def _mfa_key(user: User) -> str:
    return f"mfa-attempts:{user.pk}"


def _window() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW.total_seconds())


def _count(key: str) -> int:
    """Count one more attempt under `key` (expiring a window after its first) atomically:
    a success deleting the key at the same moment can neither fail the count (cache.add
    then cache.incr raised when the key vanished in between) nor leave the key without
    its expiry."""
    return window_count(cache.make_key(key), _window())


def _give_back(key: str) -> None:
    if int(cache.get(key, 0)) > 0:
        cache.decr(key)


def login_slowdown_seconds(account_failures: int) -> int:
    """The wait between one IP's attempts on an account with this many recent failures:
    none up to the soft cap, then doubling from 1 s up to LOGIN_SLOWDOWN_MAX_SECONDS."""
    over = account_failures - settings.LOGIN_ACCOUNT_SOFT_CAP
    if over < 0:
        return 0
    return int(min(2 ** min(over, 30), settings.LOGIN_SLOWDOWN_MAX_SECONDS))


def _login_throttled(surface: str, retry_after: int, scope: str) -> TooManyRequests:
    audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.DENIED,
        object_type=User._meta.label_lower,
        detail={"surface": surface, "reason": "throttled", "scope": scope},
    )
    return TooManyRequests(
        "Too many failed sign-in attempts. Try again later.",
        code="login_throttled",
        retry_after=retry_after,
    )


def login_attempt_begin(*, email: str, ip: str | None, surface: str = "api") -> None:
    """Count a sign-in attempt; TooManyRequests (audited) when this IP is over its limit,
    on this account or overall, or must wait before trying this account again."""
    account_key, pair_key, ip_key = _login_keys(email, ip)
    if _count(ip_key) > settings.LOGIN_FAILURES_PER_IP:
        raise _login_throttled(surface, _window(), "ip")
    if _count(pair_key) > settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise _login_throttled(surface, _window(), "account_ip")
    delay = login_slowdown_seconds(int(cache.get(account_key, 0)))
    # One attempt per IP per delay: the first try from the owner's own address goes through.
    if delay and not cache.add(f"login-slow:{pair_key}", 1, timeout=delay):
        _give_back(pair_key)
        _give_back(ip_key)
        raise _login_throttled(surface, delay, "account_slowdown")
    _count(account_key)


def login_attempt_succeeded(*, email: str, ip: str | None) -> None:
    """Give back this attempt's counts and clear this IP's failures on this account; the
    IP's failures on other accounts, and other IPs' failures here, stay counted."""
    account_key, pair_key, ip_key = _login_keys(email, ip)
    cache.delete(pair_key)
    _give_back(account_key)
    _give_back(ip_key)


def login_failure_record(*, email: str, surface: str = "api") -> None:
    """Audit a failed sign-in (against the user, if the email is known)."""
    known = User.objects.with_email(email).first()
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


def mfa_attempt_begin(*, user: User, surface: str = "api") -> None:
    """Count a code attempt before the code is checked (see login_attempt_begin); a
    throttled attempt is audited."""
    if _count(_mfa_key(user)) > settings.LOGIN_FAILURES_PER_ACCOUNT:
        audit_record(
            actor=user,
            action=AuditAction.MFA_FAILED,
            outcome=AuditOutcome.DENIED,
            object_type=AuthSession._meta.label_lower,
            detail={"surface": surface, "reason": "throttled"},
        )
        raise TooManyRequests(
            "Too many wrong codes. Try again later.",
            code="mfa_throttled",
            retry_after=_window(),
        )


def mfa_attempt_succeeded(*, user: User) -> None:
    cache.delete(_mfa_key(user))


def mfa_failure_record(
    *, user: User, surface: str, session: AuthSession | None = None, reason: str = ""
) -> None:
    """Audit a wrong code (or enrollment token: `reason`), against the API session it was
    sent for (the admin has none)."""
    detail = {"surface": surface, **({"reason": reason} if reason else {})}
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

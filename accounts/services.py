from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework import exceptions

from accounts.models import (
    AuthSession,
    CdsRegistration,
    DeaRegistration,
    LicenseStatus,
    PhysicianProfile,
    RecoveryCode,
    Role,
    StateLicense,
    TotpDevice,
    User,
    VerificationStatus,
)
from accounts.validators import dea_check, dea_normalize, dea_schedules_normalize, npi_is_valid
from audit import context
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.crypto import keyed_hash
from core.errors import Conflict, NotAuthenticated, TooManyRequests, ValidationFailed


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


# --- registration ---------------------------------------------------------------------


def _validated_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc


@transaction.atomic
def patient_register(*, email: str, password: str) -> User:
    user = User(email=normalize_email(email), role=Role.PATIENT)
    _validated_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # Double submission or an existing account: the unique index decides, not a pre-check.
        raise Conflict(
            "An account with this email already exists.",
            code="email_taken",
            fields={"email": ["An account with this email already exists."]},
        ) from exc
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        object_type="accounts.user",
        object_id=str(user.public_id),
    )
    return user


# --- login, tokens, logout ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedTokens:
    session: AuthSession
    access_token: str
    refresh_token: str


def _failure_keys(email: str, ip: str | None) -> tuple[str, str]:
    return (
        f"login-fail:acct:{keyed_hash(email, purpose='login-throttle')}",
        f"login-fail:ip:{ip or 'unknown'}",
    )


def _window() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW.total_seconds())


def _count(key: str) -> int:
    cache.add(key, 0, timeout=_window())
    return int(cache.incr(key))


def login_attempt_begin(*, email: str, ip: str | None) -> None:
    """Count the attempt before the password is checked, so parallel guesses cannot slip
    past the limit; a success gives the attempt back (login_attempt_succeeded)."""
    account_key, ip_key = _failure_keys(email, ip)
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
    account_key, ip_key = _failure_keys(email, ip)
    cache.delete(account_key)
    if cache.get(ip_key, 0) > 0:
        cache.decr(ip_key)


def login_failure_record(*, email: str, surface: str = "api") -> None:
    """Audit a failed sign-in (against the user, if the email is known)."""
    known = User.objects.filter(email=email).first()
    audit_record(
        actor=known,
        action=AuditAction.LOGIN_FAILED,
        outcome=AuditOutcome.DENIED,
        object_type="accounts.user",
        object_id=str(known.public_id) if known else "",
        detail={"surface": surface},
    )


def _mfa_required(user: User) -> bool:
    return (
        user.is_staff_role
        or TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    )


def _issue_tokens(session: AuthSession) -> IssuedTokens:
    now = timezone.now()
    access_token, refresh_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.access_digest = token_digest(access_token)
    session.refresh_digest = token_digest(refresh_token)
    session.access_expires_at = now + settings.ACCESS_TOKEN_TTL
    session.refresh_expires_at = now + settings.REFRESH_TOKEN_TTL
    session.last_seen_at = now
    return IssuedTokens(session, access_token, refresh_token)


def auth_login(*, email: str, password: str) -> IssuedTokens:
    email = normalize_email(email)
    ctx = context.current()
    login_attempt_begin(email=email, ip=ctx.ip)
    user = authenticate(None, email=email, password=password)
    if not isinstance(user, User):
        login_failure_record(email=email)
        raise NotAuthenticated("Email or password is incorrect.", code="invalid_credentials")
    login_attempt_succeeded(email=email, ip=ctx.ip)
    tokens = _issue_tokens(
        AuthSession(
            user=user, mfa_required=_mfa_required(user), ip=ctx.ip, user_agent=ctx.user_agent
        )
    )
    with transaction.atomic():
        tokens.session.save(force_insert=True)
        audit_record(
            actor=user,
            action=AuditAction.LOGIN,
            object_type="accounts.authsession",
            object_id=str(tokens.session.public_id),
        )
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


def session_authenticate(token: str) -> AuthSession:
    """The live session behind an access token, or AuthenticationFailed with the reason.

    Also ends idle staff sessions and keeps last_seen_at current (at most once a minute)."""
    now = timezone.now()
    session = _session_by_access_digest(token_digest(token))
    if session is None or session.revoked_at is not None or not session.user.is_active:
        raise exceptions.AuthenticationFailed(
            "The access token is not valid.", code="invalid_token"
        )
    if session.access_expires_at <= now:
        raise exceptions.AuthenticationFailed("The access token has expired.", code="token_expired")
    if session_is_idle(session, now):
        _end_idle_session(session, now)
        raise exceptions.AuthenticationFailed("Signed out after inactivity.", code="session_idle")
    if now - session.last_seen_at > settings.SESSION_TOUCH_INTERVAL:
        AuthSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def _end_idle_session(session: AuthSession, now: datetime) -> None:
    """Revoke a staff session that sat idle too long, and say so in the audit log."""
    AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(revoked_at=now)
    audit_record(
        actor=session.user,
        action=AuditAction.LOGOUT,
        object_type="accounts.authsession",
        object_id=str(session.public_id),
        detail={"reason": "idle"},
    )


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
            tokens = _issue_tokens(session)
            session.save(
                update_fields=[
                    "access_digest",
                    "refresh_digest",
                    "access_expires_at",
                    "refresh_expires_at",
                    "last_seen_at",
                ]
            )
            audit_record(
                actor=session.user,
                action=AuditAction.LOGIN,
                object_type="accounts.authsession",
                object_id=str(session.public_id),
                detail={"step": "refresh"},
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
    audit_record(
        actor=session.user,
        action=AuditAction.LOGOUT,
        object_type="accounts.authsession",
        object_id=str(session.public_id),
    )


# --- MFA ------------------------------------------------------------------------------


def _recovery_digest(code: str) -> str:
    return keyed_hash(code.strip().upper().replace("-", ""), purpose="mfa-recovery")


@transaction.atomic
def mfa_enrol_start(*, user: User) -> tuple[str, str]:
    """A new, unconfirmed secret; returns it and its otpauth:// provisioning URI."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device and device.confirmed_at:
        raise Conflict(
            "Multi-factor authentication is already set up.", code="mfa_already_enrolled"
        )
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        user=user, defaults={"secret": secret, "confirmed_at": None, "last_used_step": 0}
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)
    return secret, uri


def _totp_step_accepted(device: TotpDevice, code: str) -> bool:
    """Accept the current step or one either side (clock drift), each step only once."""
    totp = pyotp.TOTP(device.secret)
    now = timezone.now()
    current_step = totp.timecode(now)
    for step in (current_step - 1, current_step, current_step + 1):
        if step > device.last_used_step and secrets.compare_digest(totp.generate_otp(step), code):
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return True
    return False


def mfa_attempt_begin(user: User) -> None:
    """Count a code attempt before checking it (see login_attempt_begin)."""
    if _count(f"mfa-attempts:{user.pk}") > settings.LOGIN_FAILURES_PER_ACCOUNT:
        raise TooManyRequests(
            "Too many wrong codes. Try again later.",
            code="mfa_throttled",
            retry_after=_window(),
        )


def mfa_failure_record(user: User, *, surface: str, object_id: str = "") -> None:
    audit_record(
        actor=user,
        action=AuditAction.MFA_FAILED,
        outcome=AuditOutcome.DENIED,
        object_type="accounts.authsession",
        object_id=object_id,
        detail={"surface": surface},
    )


def mfa_attempt_succeeded(user: User) -> None:
    cache.delete(f"mfa-attempts:{user.pk}")


def _mark_verified(session: AuthSession) -> None:
    session.mfa_verified_at = timezone.now()
    session.mfa_required = True
    session.save(update_fields=["mfa_verified_at", "mfa_required"])


def mfa_enrol_confirm(*, session: AuthSession, code: str) -> list[str]:
    """Confirm the pending secret with a first code; returns recovery codes (shown once)."""
    user = session.user
    mfa_attempt_begin(user)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None or device.confirmed_at:
            raise Conflict("Start enrolment first.", code="mfa_not_pending")
        if not _totp_step_accepted(device, code.strip()):
            device = None
    if device is None:
        mfa_failure_record(user, surface="api", object_id=str(session.public_id))
        raise ValidationFailed(
            "The code is not valid.", fields={"code": ["The code is not valid."]}
        )
    with transaction.atomic():
        device.confirmed_at = timezone.now()
        device.save(update_fields=["confirmed_at"])
        codes = [secrets.token_hex(5).upper() for _ in range(settings.MFA_RECOVERY_CODE_COUNT)]
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_recovery_digest(code)) for code in codes
        )
        _mark_verified(session)
        mfa_attempt_succeeded(user)
        audit_record(
            actor=user,
            action=AuditAction.UPDATE,
            object_type="accounts.totpdevice",
            object_id=str(user.public_id),
            detail={"event": "mfa_enrolled"},
        )
    return codes


def mfa_code_valid(*, user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code (which is then spent)."""
    code = code.strip()
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            return False
        if code.isdigit() and len(code) == 6:
            return _totp_step_accepted(device, code)
        spent = RecoveryCode.objects.filter(
            user=user, code_hash=_recovery_digest(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        return spent == 1


def mfa_verify(*, session: AuthSession, code: str) -> None:
    user = session.user
    if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        raise Conflict("Set up multi-factor authentication first.", code="mfa_enrolment_required")
    mfa_attempt_begin(user)
    if not mfa_code_valid(user=user, code=code):
        mfa_failure_record(user, surface="api", object_id=str(session.public_id))
        raise ValidationFailed(
            "The code is not valid.", fields={"code": ["The code is not valid."]}
        )
    mfa_attempt_succeeded(user)
    _mark_verified(session)
    audit_record(
        actor=user,
        action=AuditAction.LOGIN,
        object_type="accounts.authsession",
        object_id=str(session.public_id),
        detail={"step": "mfa"},
    )


# --- physicians -----------------------------------------------------------------------


@transaction.atomic
def physician_create(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    npi: str,
    practice_address: str = "",
) -> PhysicianProfile:
    if not npi_is_valid(npi):
        raise ValidationFailed(
            fields={"npi": ["Not a valid NPI (10 digits with a Luhn check digit)."]}
        )
    user = User(email=normalize_email(email), role=Role.PHYSICIAN)
    _validated_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            profile = PhysicianProfile.objects.create(
                user=user,
                first_name=first_name,
                last_name=last_name,
                npi=npi,
                practice_address=practice_address,
            )
    except IntegrityError as exc:
        raise Conflict(
            "A user with this email or NPI already exists.", code="physician_exists"
        ) from exc
    return profile


@transaction.atomic
def license_set(
    *,
    physician: PhysicianProfile,
    state: str,
    number: str,
    expires_on: date,
    status: str = LicenseStatus.ACTIVE,
) -> StateLicense:
    licence, _ = StateLicense.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={"number": number, "expires_on": expires_on, "status": status},
    )
    return licence


@transaction.atomic
def dea_registration_set(
    *, physician: PhysicianProfile, number: str, state: str, expires_on: date, schedules: list[str]
) -> DeaRegistration:
    """Store a DEA registration; a failing check holds it for manual verification."""
    check = dea_check(number, last_name=physician.last_name)
    if not check.well_formed:
        raise ValidationFailed(
            fields={"number": ["A DEA number is two letters and seven digits (e.g. AB1234563)."]}
        )
    normalized_schedules = dea_schedules_normalize(schedules)
    if normalized_schedules is None:
        raise ValidationFailed(fields={"schedules": ["Schedules are 2, 2N, 3, 3N, 4 or 5."]})
    registration, _ = DeaRegistration.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={
            "number": dea_normalize(number),
            "expires_on": expires_on,
            "schedules": normalized_schedules,
            "verification": VerificationStatus.VERIFIED
            if check.verified
            else VerificationStatus.NEEDS_MANUAL_VERIFICATION,
            "verification_problems": list(check.problems),
        },
    )
    return registration


@transaction.atomic
def cds_registration_set(
    *, physician: PhysicianProfile, state: str, number: str, expires_on: date
) -> CdsRegistration:
    registration, _ = CdsRegistration.objects.update_or_create(
        physician=physician,
        state=state,
        defaults={"number": number, "expires_on": expires_on, "status": LicenseStatus.ACTIVE},
    )
    return registration

"""Multi-factor authentication: TOTP enrollment, code checks, recovery codes.

Staff (and anyone who enrolled) must pass a code before their session's token works
(accounts.permissions.IsAuthenticatedWithMfa). Wrong codes are counted and audited in
accounts.services.throttling."""

from __future__ import annotations

import secrets

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuthSession, RecoveryCode, TotpDevice, User
from accounts.services.throttling import (
    mfa_attempt_begin,
    mfa_attempt_succeeded,
    mfa_failure_record,
)
from audit.models import AuditAction
from audit.services import audit_write
from core.crypto import keyed_hash
from core.errors import Conflict, ValidationFailed


def _recovery_digest(code: str) -> str:
    return keyed_hash(code.strip().upper().replace("-", ""), purpose="mfa-recovery")


def _code_invalid() -> ValidationFailed:
    return ValidationFailed("The code is not valid.", fields={"code": ["The code is not valid."]})


@transaction.atomic
def mfa_enroll_start(*, user: User) -> tuple[str, str]:
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


def _mark_verified(session: AuthSession) -> None:
    session.mfa_verified_at = timezone.now()
    session.mfa_required = True
    session.save(update_fields=["mfa_verified_at", "mfa_required"])


def mfa_enroll_confirm(*, session: AuthSession, code: str) -> list[str]:
    """Confirm the pending secret with a first code; returns recovery codes (shown once)."""
    user = session.user
    mfa_attempt_begin(user=user)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None or device.confirmed_at:
            raise Conflict("Start enrollment first.", code="mfa_not_pending")
        if not _totp_step_accepted(device, code.strip()):
            device = None
    if device is None:
        mfa_failure_record(user=user, surface="api", session=session)
        raise _code_invalid()
    device.user = user  # loaded already: the audit row names the device by its user
    with transaction.atomic():
        device.confirmed_at = timezone.now()
        device.save(update_fields=["confirmed_at"])
        codes = [secrets.token_hex(5).upper() for _ in range(settings.MFA_RECOVERY_CODE_COUNT)]
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_recovery_digest(code)) for code in codes
        )
        _mark_verified(session)
        mfa_attempt_succeeded(user=user)
        audit_write(device, actor=user, action=AuditAction.UPDATE, detail={"event": "mfa_enrolled"})
    return codes


def mfa_code_valid(*, user: User, code: str) -> bool:
    """A TOTP code or an unused recovery code (which is then spent). Not counted: callers
    go through mfa_code_check, which is."""
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


def mfa_code_check(
    *, user: User, code: str, surface: str, session: AuthSession | None = None
) -> None:
    """Check a code within the attempt limit: TooManyRequests past it, ValidationFailed (and
    an audit row) for a wrong code. The API's verify step and the admin sign-in use it."""
    mfa_attempt_begin(user=user)
    if not mfa_code_valid(user=user, code=code):
        mfa_failure_record(user=user, surface=surface, session=session)
        raise _code_invalid()
    mfa_attempt_succeeded(user=user)


def mfa_verify(*, session: AuthSession, code: str) -> None:
    user = session.user
    if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        raise Conflict("Set up multi-factor authentication first.", code="mfa_enrollment_required")
    mfa_code_check(user=user, code=code, surface="api", session=session)
    _mark_verified(session)
    audit_write(session, actor=user, action=AuditAction.LOGIN, detail={"step": "mfa"})

"""Multi-factor authentication: TOTP enrollment, code checks, recovery codes, enrollment
tokens and the reset for a lost device.

Staff (and anyone who enrolled) must pass a code before their session's token works
(accounts.permissions.IsAuthenticatedWithMfa). Wrong codes are counted and audited in
accounts.services.throttling. Staff enroll only with a single-use enrollment token handed
to them out of band (`manage.py staff_invite`, `manage.py mfa_reset`) besides their
password, so a leaked password alone cannot enroll someone else's authenticator. A user
holding the `credentialing` permission does the same through the API (the staff_* services
at the end), on a session that has passed MFA."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    STAFF_ROLES,
    AuthSession,
    MfaEnrollmentToken,
    RecoveryCode,
    Role,
    TotpDevice,
    User,
    normalize_email,
)
from accounts.services.credentials import credentialing_check
from accounts.services.passwords import password_reset_request
from accounts.services.sessions import token_digest, user_sessions_revoke
from accounts.services.throttling import (
    mfa_attempt_begin,
    mfa_attempt_succeeded,
    mfa_failure_record,
)
from audit.models import AuditAction
from audit.services import audit_write
from core.crypto import keyed_hash
from core.errors import Conflict, NotFound, ValidationFailed


def _recovery_digest(code: str) -> str:
    return keyed_hash(code.strip().upper().replace("-", ""), purpose="mfa-recovery")


def _code_invalid() -> ValidationFailed:
    return ValidationFailed("The code is not valid.", fields={"code": ["The code is not valid."]})


@dataclass(frozen=True)
class EnrollmentToken:
    user: User
    token: str  # in clear only here: stored as a digest
    expires_at: datetime


def mfa_enrollment_token_issue(*, user: User, issued_by: User | None) -> str:
    """A new enrollment token for a staff member, valid MFA_ENROLLMENT_TOKEN_TTL and once;
    returned in clear only here (stored as a digest). Their earlier unused tokens stop
    working. `issued_by` is None for the command line."""
    return _enrollment_token_new(user=user, issued_by=issued_by).token


def _enrollment_token_new(*, user: User, issued_by: User | None) -> EnrollmentToken:
    if not user.is_staff_role:
        raise ValidationFailed("Only staff enroll with an enrollment token.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        MfaEnrollmentToken.objects.filter(user=user, used_at__isnull=True).delete()
        row = MfaEnrollmentToken.objects.create(
            user=user,
            digest=token_digest(token),
            expires_at=timezone.now() + settings.MFA_ENROLLMENT_TOKEN_TTL,
            issued_by=issued_by,
        )
        audit_write(
            row,
            actor=issued_by,
            action=AuditAction.CREATE,
            detail={"event": "mfa_enrollment_token_issued", "user": str(user.public_id)},
        )
    return EnrollmentToken(user, token, row.expires_at)


def _enrollment_token_spend(user: User, token: str) -> bool:
    """Use up `user`'s live enrollment token `token`; False if there is none such."""
    spent = MfaEnrollmentToken.objects.filter(
        user=user,
        digest=token_digest(token.strip()),
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(used_at=timezone.now())
    return spent == 1


def mfa_enroll_start(*, session: AuthSession, enrollment_token: str = "") -> tuple[str, str]:
    """A new, unconfirmed secret; returns it and its otpauth:// provisioning URI. Staff must
    present an enrollment token, which this spends (a wrong one is audited)."""
    user = session.user
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device and device.confirmed_at:
            raise Conflict(
                "Multi-factor authentication is already set up.", code="mfa_already_enrolled"
            )
        allowed = not user.is_staff_role or _enrollment_token_spend(user, enrollment_token)
        if allowed:
            secret = pyotp.random_base32()
            TotpDevice.objects.update_or_create(
                user=user, defaults={"secret": secret, "confirmed_at": None, "last_used_step": 0}
            )
    if not allowed:
        mfa_failure_record(user=user, surface="api", session=session, reason="enrollment_token")
        message = "A valid enrollment token is required (ask an administrator for one)."
        raise ValidationFailed(message, fields={"enrollment_token": [message]})
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_ISSUER)
    return secret, uri


def mfa_reset(*, user: User, actor: User | None, reason: str) -> str | None:
    """For a lost device: remove the authenticator and recovery codes, end every session,
    audit it with the reason, and return a new enrollment token (staff; None otherwise)."""
    issued = _mfa_reset(user=user, actor=actor, reason=reason)
    return issued.token if issued else None


def _mfa_reset(*, user: User, actor: User | None, reason: str) -> EnrollmentToken | None:
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        audit_write(
            user,
            actor=actor,
            action=AuditAction.UPDATE,
            detail={"event": "mfa_reset", "reason": reason},
        )
        user_sessions_revoke(user=user, actor=actor, reason="mfa_reset")
        issued = _enrollment_token_new(user=user, issued_by=actor) if user.is_staff_role else None
    mfa_attempt_succeeded(user=user)
    return issued


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
    session.save(update_fields=["mfa_verified_at"])


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
    mfa_attempt_begin(user=user, surface=surface)
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


@dataclass(frozen=True)
class StaffInvitation:
    user: User
    enrollment_token: str
    initial_password: str | None  # set when the account was created by the invitation
    expires_at: datetime  # the enrollment token's


def staff_invite(*, email: str, role: str, issued_by: User | None) -> StaffInvitation:
    """An enrollment token for a staff member, creating the account (with a random initial
    password, shown once) for a role that needs no credentials. A physician's account comes
    from credentialing (NPI, licenses) first; an existing account keeps its role."""
    email = normalize_email(email)
    user = User.objects.with_email(email).first()
    password = None
    if user is not None and user.role != role:
        raise Conflict(f"{email} has the role {user.role}; change roles through credentialing.")
    if user is None:
        if role not in STAFF_ROLES or role == Role.PHYSICIAN:
            raise ValidationFailed(
                f"Create the {role} account first (a physician through credentialing)."
            )
        password = secrets.token_urlsafe(18)
        with transaction.atomic():
            user = User.objects.create_user(email, password, role=role, is_staff=True)
            audit_write(
                user, actor=issued_by, action=AuditAction.CREATE, detail={"event": "staff_invited"}
            )
    issued = _enrollment_token_new(user=user, issued_by=issued_by)
    return StaffInvitation(user, issued.token, password, issued.expires_at)


# --- what a credentialing user does through the API ---------------------------------------


def _staff_member(public_id: uuid.UUID) -> User:
    user = User.objects.filter(public_id=public_id, role__in=STAFF_ROLES, is_active=True).first()
    if user is None:
        raise NotFound("No staff member with this id.")
    return user


def staff_enrollment_token_issue(*, actor: User, staff_public_id: uuid.UUID) -> EnrollmentToken:
    """A credentialing user issues a staff member's enrollment token (not their own). The
    permission is checked before the lookup: nobody else learns which ids are staff."""
    credentialing_check(actor=actor)
    user = _staff_member(staff_public_id)
    credentialing_check(actor=actor, subject=user)
    return _enrollment_token_new(user=user, issued_by=actor)


def staff_mfa_reset(*, actor: User, staff_public_id: uuid.UUID, reason: str) -> EnrollmentToken:
    """mfa_reset (lost device) of a staff member by a credentialing user (not themself):
    their authenticator and recovery codes go, every session of theirs ends, and a new
    enrollment token comes back; audited with the reason."""
    credentialing_check(actor=actor)
    user = _staff_member(staff_public_id)
    credentialing_check(actor=actor, subject=user)
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["Say why (kept in the audit log)."]})
    issued = _mfa_reset(user=user, actor=actor, reason=reason.strip())
    assert issued is not None  # staff always get one
    return issued


def staff_invite_by(*, actor: User, email: str, role: str) -> EnrollmentToken:
    """staff_invite by a credentialing user. Unlike the command, no initial password comes
    back: whoever holds both the password and the enrollment token could enroll their own
    authenticator on the account. A new account's owner chooses a password through the
    emailed reset link instead; the caller hands over the enrollment token."""
    credentialing_check(actor=actor)
    if role not in STAFF_ROLES:
        raise ValidationFailed(fields={"role": ["Not a staff role."]})
    with transaction.atomic():
        invitation = staff_invite(email=email, role=role, issued_by=actor)
        credentialing_check(actor=actor, subject=invitation.user)  # not oneself: rolls back
    if invitation.initial_password is not None:
        password_reset_request(email=invitation.user.email)
    return EnrollmentToken(invitation.user, invitation.enrollment_token, invitation.expires_at)

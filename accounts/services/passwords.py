"""Password change (signed in) and password reset by email.

A reset token is Django's PasswordResetTokenGenerator under our own salt: it signs the
user's password hash and last sign-in, so it works once (setting the password changes the
hash) and for PASSWORD_RESET_TIMEOUT seconds; nothing is stored. The request answers the
same whether or not the email has an account."""

from __future__ import annotations

import uuid

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction

from accounts.models import AuthSession, User
from accounts.services.registration import (
    account_email_send,
    app_link,
    password_validate,
)
from accounts.services.sessions import user_sessions_revoke, user_sessions_revoke_others
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import ValidationFailed


class PasswordResetTokens(PasswordResetTokenGenerator):
    key_salt = "accounts.services.passwords.PasswordResetTokens"


password_reset_tokens = PasswordResetTokens()


def _new_password_set(user: User, new_password: str) -> None:
    try:
        password_validate(password=new_password, user=user)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={"new_password": exc.fields["password"]}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])


@transaction.atomic
def password_change(*, session: AuthSession, current_password: str, new_password: str) -> None:
    """Set a new password; every other session of the user ends, this one stays."""
    user = User.objects.select_for_update().get(pk=session.user_id)
    if not user.check_password(current_password):
        raise ValidationFailed(
            "The current password is not correct.",
            code="invalid_current_password",
            fields={"current_password": ["The current password is not correct."]},
        )
    _new_password_set(user, new_password)
    audit_write(user, actor=user, action=AuditAction.UPDATE, detail={"password": "changed"})
    user_sessions_revoke_others(session=session, reason="password_changed")


def password_reset_token(user: User) -> str:
    return f"{user.public_id.hex}.{password_reset_tokens.make_token(user)}"


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Email a reset link to an active account with this address; nothing otherwise."""
    user = User.objects.with_email(email).filter(is_active=True).first()
    if user is None:
        return
    audit_write(user, actor=None, action=AuditAction.UPDATE, detail={"password": "reset_requested"})
    account_email_send(
        to=user.email,
        subject="Reset your password",
        body=(
            "Someone asked to reset the password of your account. If it was you, open this "
            "link within 30 minutes to choose a new one (it works once):\n\n"
            f"{app_link('/reset-password', password_reset_token(user))}\n\n"
            "If it was not you, ignore this email: your password stays as it is."
        ),
    )


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """Set the password from a valid reset link and end every session of the user."""
    invalid = ValidationFailed(
        "This link is not valid or has expired.",
        code="invalid_token",
        fields={"token": ["This link is not valid or has expired."]},
    )
    public_hex, _, signed = token.partition(".")
    try:
        public_id = uuid.UUID(hex=public_hex)
    except ValueError as exc:
        raise invalid from exc
    user = User.objects.select_for_update().filter(public_id=public_id, is_active=True).first()
    if user is None or not password_reset_tokens.check_token(user, signed):
        raise invalid
    _new_password_set(user, new_password)
    audit_write(user, actor=user, action=AuditAction.UPDATE, detail={"password": "reset"})
    user_sessions_revoke(user=user, actor=user, reason="password_reset")
    return user

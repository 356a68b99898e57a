"""New accounts: patients register themselves; physicians are created by the practice
(accounts.services.credentials). Both go through the same email and password rules.

Registration never tells the caller whether the email was taken: both paths validate and
hash the password once (the Argon2 hash is what an attacker could time) and answer alike;
the address's owner gets an email either way (a verification link for a new account, a
notice for an existing one), so only the person who reads that inbox learns which.
Email ownership is proven by a signed, expiring link (email_verify) before paying."""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User, normalize_email
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, audit_write
from core.errors import Conflict, ValidationFailed

logger = logging.getLogger(__name__)

EMAIL_VERIFICATION_SALT = "accounts.email-verification"


def password_validate(*, password: str, user: User) -> None:
    """Django's password validators, as a field error on `password`."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc


def account_email_send(*, to: str, subject: str, body: str) -> None:
    """Send an account email once the transaction commits, through Django's mail (accounts
    sits below notifications, which imports it). A mail server that is down does not fail
    the request (the answer must not differ by path); the owner can ask again."""

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("account email not sent: %s", type(exc).__name__)

    transaction.on_commit(send)


def app_link(path: str, token: str) -> str:
    return f"{settings.PUBLIC_APP_URL.rstrip('/')}{path}?{urlencode({'token': token})}"


@transaction.atomic
def patient_register(*, email: str, password: str) -> None:
    """Create a patient account, or tell the existing account's owner someone tried."""
    user = User(email=normalize_email(email), role=Role.PATIENT)
    password_validate(password=password, user=user)
    user.set_password(password)  # before the insert: the taken path pays the same hash
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # An existing account (or a double submission): the unique index decides.
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            outcome=AuditOutcome.DENIED,
            object_type=User._meta.label_lower,
            detail={"reason": "email_taken"},
        )
        account_email_send(
            to=user.email,
            subject="Someone tried to register with your email",
            body=(
                "Someone tried to create an account with this email address, which already "
                "has an account with us. If it was you, sign in instead (or reset your "
                "password). If not, you can ignore this email: nothing has changed."
            ),
        )
        return
    audit_write(user, actor=user, action=AuditAction.CREATE)
    email_verification_send(user=user)


def email_verification_token(user: User) -> str:
    # Signs the address's keyed hash (the link must not carry the address itself: signed
    # is not encrypted), so a link stops working if the email changes.
    return signing.TimestampSigner(salt=EMAIL_VERIFICATION_SALT).sign_object(
        {"user": str(user.public_id), "email_hash": user.email_hash}
    )


def email_verification_send(*, user: User) -> None:
    account_email_send(
        to=user.email,
        subject="Confirm your email address",
        body=(
            "Welcome. Confirm this is your email address by opening this link "
            f"(valid for {settings.EMAIL_VERIFICATION_MAX_AGE_SECONDS // 3600} hours):\n\n"
            f"{app_link('/verify-email', email_verification_token(user))}\n"
        ),
    )


def email_verification_resend(*, user: User) -> None:
    if user.email_verified_at is not None:
        raise Conflict("Your email address is already confirmed.", code="email_already_verified")
    email_verification_send(user=user)


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the address in a valid, unexpired link as verified (again is harmless)."""
    invalid = ValidationFailed(
        "This link is not valid or has expired.",
        code="invalid_token",
        fields={"token": ["This link is not valid or has expired."]},
    )
    try:
        claims = signing.TimestampSigner(salt=EMAIL_VERIFICATION_SALT).unsign_object(
            token, max_age=settings.EMAIL_VERIFICATION_MAX_AGE_SECONDS
        )
    except signing.BadSignature as exc:  # SignatureExpired included
        raise invalid from exc
    user = (
        User.objects.select_for_update()
        .filter(public_id=claims.get("user"), email_hash=claims.get("email_hash"), is_active=True)
        .first()
    )
    if user is None:
        raise invalid
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_write(user, actor=user, action=AuditAction.UPDATE, detail={"email_verified": True})
    return user

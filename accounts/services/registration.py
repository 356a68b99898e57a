"""New accounts: patients register themselves; physicians are created by the practice
(accounts.services.credentials). Both go through the same email and password rules."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from accounts.models import Role, User
from audit.models import AuditAction
from audit.services import audit_write
from core.errors import Conflict, ValidationFailed


def normalize_email(email: str) -> str:
    return email.strip().lower()


def password_validate(*, password: str, user: User) -> None:
    """Django's password validators, as a field error on `password`."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc


@transaction.atomic
def patient_register(*, email: str, password: str) -> User:
    user = User(email=normalize_email(email), role=Role.PATIENT)
    password_validate(password=password, user=user)
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
    audit_write(user, actor=user, action=AuditAction.CREATE)
    return user

"""Phone ownership: a 6-digit code sent by SMS to the number on file proves the patient
holds it; care texts wait for that proof (patients.selectors.record directory).

The code is a secret: only its keyed hash is stored here, it expires, and a code that
took too many wrong guesses is dead. It reaches the text encrypted in the outbox context
and is never logged."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_write
from core.crypto import encrypt, keyed_hash
from core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from notifications.models import Category, Channel
from notifications.services import message_schedule
from patients.models import Patient, PhoneVerification

CODE_LIFETIME = timedelta(minutes=10)
MAX_FAILED_ATTEMPTS = 5
TEMPLATE_KEY = "phone_verification"


class InvalidCode(ValidationFailed):
    code = "invalid_code"
    default_message = "That code is not valid. Check the latest text or ask for a new code."


class CodeLocked(TooManyRequests):
    code = "too_many_attempts"
    default_message = "Too many wrong codes: ask for a new code."


def _code_hash(patient: Patient, code: str) -> str:
    # Bound to the patient, so a row copied to another patient proves nothing.
    return keyed_hash(f"{patient.public_id}:{code}", purpose="phone_verification_code")


def _own_patient_locked(user: User) -> Patient:
    patient = Patient.objects.select_for_update().filter(user=user).first()
    if patient is None or not patient.phone:
        raise NotFound("No phone on file: complete your profile first.", code="no_record")
    return patient


@transaction.atomic
def phone_verification_send(*, user: User) -> None:
    """Text a new code to the signed-in patient's phone; it replaces any earlier code."""
    patient = _own_patient_locked(user)
    if patient.phone_verified_at is not None:
        raise Conflict("This phone number is already verified.", code="phone_already_verified")
    code = f"{secrets.randbelow(10**6):06d}"
    PhoneVerification.objects.update_or_create(
        patient=patient,
        defaults={
            "phone_hash": patient.phone_hash,
            "code_hash": _code_hash(patient, code),
            "expires_at": timezone.now() + CODE_LIFETIME,
            "failed_attempts": 0,
        },
    )
    message_schedule(
        recipient=user,
        template_key=TEMPLATE_KEY,
        category=Category.VERIFICATION,
        channel=Channel.SMS,
        dedupe_key=f"phone-verification:{uuid.uuid4()}",
        context={"code": encrypt(code)},
        urgent=True,  # the patient is waiting; quiet hours would outlast the code
    )
    audit_write(patient, actor=user, action=AuditAction.UPDATE, detail={"phone_code": "sent"})


def phone_verification_confirm(*, user: User, code: str) -> Patient:
    """Mark the phone verified when `code` is the live code sent to it. A wrong code counts
    against that code (the count is kept even though the request fails); after
    MAX_FAILED_ATTEMPTS wrong ones it answers CodeLocked, right code or not."""
    retry_after = 0
    with transaction.atomic():
        patient = _own_patient_locked(user)
        pending = PhoneVerification.objects.select_for_update().filter(patient=patient).first()
        live = (
            pending is not None
            and pending.phone_hash == patient.phone_hash
            and pending.expires_at > timezone.now()
        )
        if pending is None or not live:
            outcome = "no_live_code"
        elif pending.failed_attempts >= MAX_FAILED_ATTEMPTS:
            outcome = "locked"
            # A new code can be asked for at once; this one stays dead until it expires.
            retry_after = max(1, int((pending.expires_at - timezone.now()).total_seconds()))
        elif hmac.compare_digest(pending.code_hash, _code_hash(patient, code)):
            patient.phone_verified_at = timezone.now()
            patient.save(update_fields=["phone_verified_at", "updated_at"])
            pending.delete()
            outcome = "verified"
        else:
            pending.failed_attempts += 1
            pending.save(update_fields=["failed_attempts"])
            outcome = "wrong_code"
        audit_write(
            patient,
            actor=user,
            action=AuditAction.UPDATE,
            outcome=AuditOutcome.SUCCESS if outcome == "verified" else AuditOutcome.FAILURE,
            detail={"phone_verification": outcome},
        )
    if outcome == "locked":
        raise CodeLocked(retry_after=retry_after)
    if outcome != "verified":
        raise InvalidCode(fields={"code": ["Invalid or expired code."]})
    return patient

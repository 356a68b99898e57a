from __future__ import annotations

import uuid

from django.db.models import F, QuerySet

from accounts.models import User
from core.phones import phone_lookup_hash
from notifications.directory import contacts_for_users
from notifications.models import Consent, Message, PhoneStatus


def messages_for_ops() -> QuerySet[Message]:
    """Every message, newest first, with the recipient's patient id for the audit trail
    (joined, not loaded: the patient row's encrypted fields are never decrypted here)."""
    return (
        Message.objects.select_related("recipient")
        .annotate(recipient_patient_public_id=F("recipient__patient__public_id"))
        .order_by("-created_at", "-id")
    )


def message_patient_id(message: Message) -> uuid.UUID | None:
    """The patient a message from `messages_for_ops` went to (None for staff)."""
    patient_id: uuid.UUID | None = getattr(message, "recipient_patient_public_id", None)
    return patient_id


def consents_of(user: User) -> list[Consent]:
    return list(Consent.objects.filter(user=user).order_by("category", "channel"))


def sms_opted_out(user: User) -> bool:
    phone = contacts_for_users([user.pk]).get(user.pk)
    if phone is None or not phone.phone:
        return False
    return PhoneStatus.objects.filter(
        phone_hash=phone_lookup_hash(phone.phone), opted_out_at__isnull=False
    ).exists()

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import User
from core.phones import phone_lookup_hash
from notifications.directory import (
    contacts_for_users,
    patient_ids_for_users,
    user_ids_for_phone,
)
from notifications.models import Consent, Message, PhoneStatus


def messages_for_ops() -> QuerySet[Message]:
    """Every message, newest first."""
    return Message.objects.select_related("recipient").order_by("-created_at", "-id")


def message_patient_ids(messages: Iterable[Message]) -> dict[int, uuid.UUID]:
    """The patient each message went to, by message pk (staff recipients are absent), asked
    of the contact directory in one query for the whole page: notifications knows no
    patient table."""
    messages = list(messages)
    patients = patient_ids_for_users(list({m.recipient_id for m in messages}))
    return {m.pk: patients[m.recipient_id] for m in messages if m.recipient_id in patients}


def consents_of(user: User) -> list[Consent]:
    return list(Consent.objects.filter(user=user).order_by("category", "channel"))


def sms_opted_out(user: User) -> bool:
    contact = contacts_for_users([user.pk]).get(user.pk)
    return bool(contact and contact.phone and number_opted_out(contact.phone))


def number_opted_out(phone: str) -> bool:
    """Whether the number replied STOP (and not START since)."""
    return PhoneStatus.objects.filter(
        phone_hash=phone_lookup_hash(phone), opted_out_at__isnull=False
    ).exists()


def users_for_phone(phone: str) -> list[User]:
    """The users whose number on file is `phone`, as the contact directory knows them."""
    return list(User.objects.filter(pk__in=user_ids_for_phone(phone)))

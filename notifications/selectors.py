from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from notifications.models import Consent, Message, PhoneStatus
from patients.selectors import contacts_for_users


def messages_for_ops() -> QuerySet[Message]:
    return Message.objects.select_related("recipient").order_by("-created_at", "-id")


def consents_of(user: User) -> list[Consent]:
    return list(Consent.objects.filter(user=user).order_by("category", "channel"))


def sms_opted_out(user: User) -> bool:
    from patients.models import phone_lookup_hash

    phone = contacts_for_users([user.pk]).get(user.pk)
    if phone is None or not phone.phone:
        return False
    return PhoneStatus.objects.filter(
        phone_hash=phone_lookup_hash(phone.phone), opted_out_at__isnull=False
    ).exists()

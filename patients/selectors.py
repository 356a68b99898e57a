from __future__ import annotations

from dataclasses import dataclass

from patients.models import Patient, phone_lookup_hash


@dataclass(frozen=True)
class Contact:
    """How to reach a user, resolved when a message is sent (never copied into the outbox)."""

    user_id: int
    email: str
    phone: str  # E.164, or "" when none is on file
    time_zone: str | None  # IANA zone; None when unknown


def contacts_for_users(user_ids: list[int]) -> dict[int, Contact]:
    """Contact details for many users in one query (patients; others get email only)."""
    from accounts.models import User

    users = User.objects.filter(pk__in=user_ids).select_related("patient")
    contacts = {}
    for user in users:
        patient: Patient | None = getattr(user, "patient", None)
        contacts[user.pk] = Contact(
            user_id=user.pk,
            email=user.email,
            phone=patient.phone if patient else "",
            time_zone=patient.time_zone or None if patient else None,
        )
    return contacts


def user_ids_for_phone(phone: str) -> list[int]:
    """Users whose phone on file is `phone` (found by keyed hash: phones are encrypted)."""
    matches = Patient.objects.filter(phone_hash=phone_lookup_hash(phone))
    return list(matches.values_list("user_id", flat=True))

"""Who a user is on the phone and by email, as the outbox needs to know it.

Notifications owns this protocol and knows no app that holds contact details: the app
that keeps them (patients) registers a directory in its AppConfig.ready(), the way reply
handlers are registered. Contacts are resolved when a message is sent, never copied into
the outbox. With no directory registered, users are reached by their account email only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from accounts.models import User
from notifications.models import Category


@dataclass(frozen=True)
class Contact:
    user_id: int
    email: str
    phone: str  # E.164 of a number whose owner proved it, or ""
    time_zone: str | None  # IANA zone; None when unknown
    # A number on file whose ownership is not proven yet: only verification texts use it.
    unverified_phone: str = ""

    def for_category(self, category: str) -> Contact:
        """The contact a message of `category` may use."""
        if category == Category.VERIFICATION and not self.phone:
            return replace(self, phone=self.unverified_phone)
        return self


class ContactDirectory(Protocol):
    def contacts_for_users(self, user_ids: list[int]) -> dict[int, Contact]:
        """Contacts of many users in a fixed number of queries."""
        ...

    def user_ids_for_phone(self, phone: str) -> list[int]:
        """Users whose number on file is `phone` (however it is written)."""
        ...

    def patient_ids_for_users(self, user_ids: list[int]) -> dict[int, uuid.UUID]:
        """The public id of the patient each user is, in one query (the audit trail names
        the patient whose message was read); users who are not patients are absent."""
        ...


class AccountEmailDirectory:
    """Email from the account, no phone: what everyone gets without a registered directory."""

    def contacts_for_users(self, user_ids: list[int]) -> dict[int, Contact]:
        users = User.objects.filter(pk__in=user_ids).only("pk", "email")
        return {u.pk: Contact(user_id=u.pk, email=u.email, phone="", time_zone=None) for u in users}

    def user_ids_for_phone(self, phone: str) -> list[int]:
        return []

    def patient_ids_for_users(self, user_ids: list[int]) -> dict[int, uuid.UUID]:
        return {}


_directory: ContactDirectory = AccountEmailDirectory()


def register_contact_directory(directory: ContactDirectory) -> None:
    global _directory
    _directory = directory


def contacts_for_users(user_ids: list[int]) -> dict[int, Contact]:
    return _directory.contacts_for_users(user_ids)


def user_ids_for_phone(phone: str) -> list[int]:
    return _directory.user_ids_for_phone(phone)


def patient_ids_for_users(user_ids: list[int]) -> dict[int, uuid.UUID]:
    return _directory.patient_ids_for_users(user_ids)

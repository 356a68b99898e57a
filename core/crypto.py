"""Field encryption at rest with rotatable keys, and keyed hashes for lookups.

FIELD_ENCRYPTION_KEYS is a comma-separated list of Fernet keys, newest first: new values
are written with the first, every listed key can read. Rotate by prepending a key and
re-encrypting (`manage.py rotate_phi_keys`, added with the patient record).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from datetime import date
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django import forms
from django.conf import settings
from django.core import validators
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: Any) -> None:
    # Tests (and a key rotation rehearsal) change the key list at run time.
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


def keyed_hash(value: str, *, purpose: str) -> str:
    """Deterministic HMAC-SHA256 for equality lookups on secret values (phones, codes)."""
    key = hashlib.sha256(f"{purpose}:{settings.LOOKUP_HASH_KEY}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; the database never sees the plaintext.

    Encrypted columns cannot be searched or ordered; look values up by a keyed hash."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(str(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON document (answers, scores) stored encrypted as one token."""

    # What django-stubs should see instead of TextField's str: any JSON value.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        text = super().from_db_value(value, expression, connection)
        return None if text is None else json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))


class EncryptedDateField(EncryptedTextField):
    """A date stored encrypted (as its ISO text)."""

    # What django-stubs should see instead of TextField's str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        text = super().from_db_value(value, expression, connection)
        return date.fromisoformat(text) if text else None

    def to_python(self, value: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        return encrypt(self.to_python(value).isoformat())  # type: ignore[union-attr]


class EncryptedEmailField(EncryptedTextField):
    """An email address stored encrypted, validated like an EmailField.

    A ciphertext matches nothing (every token is different), so a filter on the field
    would silently find no row: every lookup but `isnull` is refused with a FieldError.
    Look the address up by its keyed hash, in a column of its own."""

    default_validators = [validators.validate_email]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 254)
        super().__init__(*args, **kwargs)

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, name: str) -> Any:
        return None

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(
            **{"form_class": forms.EmailField, "widget": forms.EmailInput, **kwargs}
        )

"""Field encryption at rest with rotatable keys, and keyed hashes for lookups.

FIELD_ENCRYPTION_KEYS is a comma-separated list of Fernet keys, newest first: new values
are written with the first, every listed key can read. Rotate by prepending a key and
re-encrypting (`manage.py rotate_phi_keys`, added with the patient record).

Values are written by `cryptography`'s MultiFernet. They are read by `decrypt` below, which
implements the same Fernet check (HMAC-SHA256 over the token, compared in constant time,
before anything is decrypted) with objects made once per thread and key: building a
CBC-mode cipher context costs more than decrypting a field (OpenSSL 3 looks the algorithm
up each time), and a patient record is 13 fields. AES-CBC decryption is done with the
key's one ECB context (P[i] = D(C[i]) xor C[i-1], C[-1] = IV); tests hold `decrypt` to
MultiFernet's answer, tampered and foreign tokens included (tests/core/test_crypto.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import threading
from datetime import date
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

# A Fernet token: version 0x80, 8-byte timestamp, 16-byte IV, ciphertext (whole 16-byte
# blocks, PKCS7-padded: at least one), 32-byte HMAC-SHA256 of everything before it.
_VERSION = 0x80
_HEADER = 1 + 8 + 16
_MAC = 32
_BLOCK = 16


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


# Per thread (cipher contexts are not thread-safe): for each key, newest first, a keyed
# HMAC to copy and an AES-ECB decryption context; rebuilt when the key list changes.
_readers = threading.local()
_keys_generation = 0


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: Any) -> None:
    # Tests (and a key rotation rehearsal) change the key list at run time.
    global _keys_generation
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()
        _keys_generation += 1


def _key_readers() -> list[tuple[crypto_hmac.HMAC, CipherContext]]:
    cached = getattr(_readers, "keys", None)
    if cached is not None and cached[0] == _keys_generation:
        return cached[1]
    readers = []
    for key in settings.FIELD_ENCRYPTION_KEYS:
        raw = base64.urlsafe_b64decode(key)
        signing, encryption = raw[:16], raw[16:]
        # ECB only as the block decryption inside CBC (see the module docstring).
        ecb = Cipher(algorithms.AES(encryption), modes.ECB()).decryptor()  # noqa: S305
        readers.append((crypto_hmac.HMAC(signing, hashes.SHA256()), ecb))
    _readers.keys = (_keys_generation, readers)
    return readers


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of a Fernet token made with any of FIELD_ENCRYPTION_KEYS (the first
    is tried first); InvalidToken, like MultiFernet, for anything else."""
    try:
        data = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        raise InvalidToken from None
    size = len(data) - _HEADER - _MAC
    if data[:1] != bytes((_VERSION,)) or size < _BLOCK or size % _BLOCK:
        raise InvalidToken
    signed, signature = data[:-_MAC], data[-_MAC:]
    for mac, ecb in _key_readers():
        check = mac.copy()
        check.update(signed)
        if not hmac.compare_digest(check.finalize(), signature):
            continue
        # CBC: each block's decryption xor the block before it (the IV for the first).
        previous = signed[_HEADER - _BLOCK : -_BLOCK]
        blocks = ecb.update(signed[_HEADER:])
        padded = (int.from_bytes(blocks) ^ int.from_bytes(previous)).to_bytes(size)
        pad = padded[-1]
        if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
            raise InvalidToken
        return padded[:-pad].decode()
    raise InvalidToken


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

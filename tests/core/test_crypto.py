"""core.crypto.decrypt is held to cryptography's MultiFernet: the same plaintext for every
token it accepts, InvalidToken for every token it refuses (tampered, truncated, foreign
key, wrong version, not base64), with several keys and from several threads."""

from __future__ import annotations

import base64
import os
import secrets
import threading

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core import crypto

NEW, OLD, FOREIGN = (Fernet.generate_key().decode() for _ in range(3))
PLAINTEXTS = [
    "",
    "a",
    "x" * 15,
    "x" * 16,
    "x" * 17,
    "Jane",
    "1980-01-02",
    "+18505550100",
    "123 Main Street, Apt 4",
    "Ünïcødé 東京 ✓",
    "x" * 200,
]


@pytest.fixture(autouse=True)
def two_keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]


def reference(token: str) -> str:
    return MultiFernet([Fernet(NEW), Fernet(OLD)]).decrypt(token.encode()).decode()


@pytest.mark.parametrize("key", ["new", "old"])
@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_every_token_of_a_listed_key_reads_as_multifernet_reads_it(key, plaintext):
    token = Fernet({"new": NEW, "old": OLD}[key]).encrypt(plaintext.encode()).decode()
    assert crypto.decrypt(token) == reference(token) == plaintext


def test_random_lengths_and_bytes_agree_with_multifernet():
    for length in range(0, 100):
        plaintext = os.urandom(length).hex()[:length]
        token = Fernet(secrets.choice([NEW, OLD])).encrypt(plaintext.encode()).decode()
        assert crypto.decrypt(token) == reference(token)


def test_what_encrypt_writes_decrypt_reads():
    for plaintext in PLAINTEXTS:
        assert crypto.decrypt(crypto.encrypt(plaintext)) == plaintext


def refused_by_both(token: str) -> None:
    with pytest.raises(InvalidToken):
        reference(token)
    with pytest.raises(InvalidToken):
        crypto.decrypt(token)


def test_a_foreign_key_is_refused():
    refused_by_both(Fernet(FOREIGN).encrypt(b"secret").decode())


def test_every_single_bit_flip_is_refused():
    raw = bytearray(base64.urlsafe_b64decode(Fernet(NEW).encrypt(b"a record field")))
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[index] ^= bit
            refused_by_both(base64.urlsafe_b64encode(bytes(tampered)).decode())


@pytest.mark.parametrize("cut", [1, 16, 32, 33, 48, 1000])
def test_truncated_tokens_are_refused(cut):
    raw = base64.urlsafe_b64decode(Fernet(NEW).encrypt(b"x" * 20))
    refused_by_both(base64.urlsafe_b64encode(raw[:-cut]).decode())


def test_a_validly_signed_token_with_bad_padding_is_refused():
    """Only a key holder can make one; MultiFernet still refuses it, and so do we."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as crypto_hmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    raw = base64.urlsafe_b64decode(NEW)
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(raw[16:]), modes.CBC(iv)).encryptor()
    body = b"\x80" + bytes(8) + iv + encryptor.update(b"y" * 15 + b"\x05") + encryptor.finalize()
    mac = crypto_hmac.HMAC(raw[:16], hashes.SHA256())
    mac.update(body)
    refused_by_both(base64.urlsafe_b64encode(body + mac.finalize()).decode())


@pytest.mark.parametrize("token", ["", "not base64 at all!", "gA==", "AAAA" * 30, "é"])
def test_garbage_is_refused(token):
    with pytest.raises(InvalidToken):
        crypto.decrypt(token)


def test_a_removed_key_stops_reading_at_once(settings):
    token = Fernet(OLD).encrypt(b"old").decode()
    assert crypto.decrypt(token) == "old"
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(InvalidToken):
        crypto.decrypt(token)


def test_threads_read_concurrently():
    tokens = {Fernet(NEW).encrypt(f"value {i}".encode()).decode(): f"value {i}" for i in range(50)}
    failures: list[str] = []

    def read() -> None:
        for _ in range(20):
            for token, plaintext in tokens.items():
                if crypto.decrypt(token) != plaintext:
                    failures.append(token)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

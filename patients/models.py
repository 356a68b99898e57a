from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.crypto import EncryptedDateField, EncryptedTextField, keyed_hash
from accounts.models import State
from patients.validators import us_phone_e164


def phone_lookup_hash(phone: str) -> str:
    """Keyed hash of the number in E.164, however it was written."""
    return keyed_hash(us_phone_e164(phone) or phone, purpose="phone")


class SexAtBirth(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"


class Patient(models.Model):
    """The patient's record. Contact and personal fields are encrypted at rest; state,
    county and time zone stay plain because routing (licensed physicians, pharmacies)
    and quiet hours query them."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient"
    )
    legal_first_name = EncryptedTextField(blank=True)
    legal_last_name = EncryptedTextField(blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True)
    sex_at_birth = EncryptedTextField(blank=True)
    phone = EncryptedTextField(blank=True)  # E.164
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    address_line1 = EncryptedTextField(blank=True)
    address_line2 = EncryptedTextField(blank=True)
    city = EncryptedTextField(blank=True)
    zip_code = EncryptedTextField(blank=True)
    state = models.CharField(max_length=2, choices=State.choices)
    county = models.CharField(max_length=64)
    time_zone = models.CharField(max_length=64)
    emergency_contact_name = EncryptedTextField(blank=True)
    emergency_contact_phone = EncryptedTextField(blank=True)
    sitter_name = EncryptedTextField(blank=True)
    sitter_phone = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"patient {self.public_id}"

    def set_phone(self, phone: str) -> None:
        self.phone = phone
        self.phone_hash = phone_lookup_hash(phone) if phone else ""

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.public_id

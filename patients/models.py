from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.crypto import EncryptedTextField, keyed_hash
from accounts.models import State


def phone_lookup_hash(phone: str) -> str:
    return keyed_hash(phone, purpose="phone")


class Patient(models.Model):
    """The patient's record. This foundation holds only where the patient lives (state,
    county, time zone) for routing and messaging; the full encrypted record arrives
    with intake."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient"
    )
    state = models.CharField(max_length=2, choices=State.choices)
    county = models.CharField(max_length=64)
    time_zone = models.CharField(max_length=64)
    phone = EncryptedTextField(blank=True)  # E.164
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"patient {self.public_id}"

    def set_phone(self, phone: str) -> None:
        self.phone = phone
        self.phone_hash = phone_lookup_hash(phone) if phone else ""

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.public_id

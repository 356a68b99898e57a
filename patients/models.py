from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import State


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
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"patient {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.public_id

"""Dosing protocols (the titration plan a prescription follows) and their dose changes."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import PhysicianProfile, User
from core.crypto import EncryptedTextField
from patients.models import Patient
from prescriptions.models.catalog import Medication
from scheduling.models import Appointment


class ProtocolKind(models.TextChoices):
    MICRODOSE = "microdose"  # sub-perceptual, frequent
    STANDARD = "standard"  # dissociative sessions, less often


class DosingProtocol(models.Model):
    """How a patient is dosed: set by a physician, one current protocol per patient. A new
    protocol replaces the current one (`ended_at`); a titration step changes
    `current_dose_mg` at a check-in and is recorded as a DoseChange with its reason."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="protocols")
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.PROTECT, related_name="protocols_set"
    )
    kind = models.CharField(max_length=16, choices=ProtocolKind.choices)
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    starting_dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    current_dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    titration_step_mg = models.DecimalField(max_digits=7, decimal_places=2)
    min_days_between_steps = models.PositiveSmallIntegerField()
    ceiling_dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    max_per_session_mg = models.DecimalField(max_digits=7, decimal_places=2)
    min_hours_between_sessions = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(ended_at__isnull=True),
                name="one_current_protocol_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(starting_dose_mg__gt=0)
                & Q(starting_dose_mg__lte=models.F("ceiling_dose_mg"))
                & Q(current_dose_mg__gt=0)
                & Q(current_dose_mg__lte=models.F("ceiling_dose_mg"))
                & Q(max_per_session_mg__gte=models.F("current_dose_mg"))
                & Q(max_per_session_mg__lte=models.F("ceiling_dose_mg"))
                & Q(titration_step_mg__gte=0)
                & Q(min_hours_between_sessions__gt=0),
                name="protocol_doses_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"protocol {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class DoseChange(models.Model):
    """One titration step (or step down) of a protocol, made at a check-in."""

    protocol = models.ForeignKey(DosingProtocol, on_delete=models.PROTECT, related_name="changes")
    from_dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    to_dose_mg = models.DecimalField(max_digits=7, decimal_places=2)
    reason = EncryptedTextField()
    visit = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"dose change {self.pk}"

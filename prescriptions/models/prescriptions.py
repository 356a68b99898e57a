"""Prescriptions and what signing one needs: the PDMP checks and the in-person
evaluations.

A prescription is written once, signed, and never changes: its clinical fields and the
patient's and prescriber's details as they were at signing are a snapshot (a trigger in
PostgreSQL refuses edits, migration 0002)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import PhysicianProfile, State, User
from core.crypto import EncryptedTextField
from patients.models import Patient
from prescriptions.models.catalog import DosageForm, Medication, Route
from prescriptions.models.protocols import DosingProtocol
from scheduling.models import Appointment


class PdmpProgram(models.TextChoices):
    FL = "FL", "Florida E-FORCSE"
    NJ = "NJ", "NJPMP"


class PdmpCheck(models.Model):
    """A look-up of the patient in their state's prescription monitoring program, as the
    physician recorded it: who, when, and the program's reference. A prescription needs
    one of the same practice day."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pdmp_checks")
    program = models.CharField(max_length=2, choices=PdmpProgram.choices)
    checked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)
    checked_on = models.DateField()  # the practice date of checked_at
    reference = EncryptedTextField()
    notes = EncryptedTextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "checked_on"])]

    def __str__(self) -> str:
        return f"PDMP check {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class InPersonEvaluation(models.Model):
    """A documented in-person medical evaluation: after the telemedicine rule's end date a
    prescription needs one."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="in_person_evaluations"
    )
    physician = models.ForeignKey(PhysicianProfile, on_delete=models.PROTECT, related_name="+")
    evaluated_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    notes = EncryptedTextField(blank=True)

    def __str__(self) -> str:
        return f"in-person evaluation {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id


class PrescriptionStatus(models.TextChoices):
    SIGNED = "signed"
    CANCELED = "canceled"


class Prescription(models.Model):
    """A signed Schedule III prescription (21 CFR 1306.05; F.S. 456.42 for the quantity in
    words). Everything but the cancellation is fixed at signing; the database refuses
    edits (migration 0002's trigger)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="prescriptions")
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.PROTECT, related_name="prescriptions"
    )
    protocol = models.ForeignKey(DosingProtocol, on_delete=models.PROTECT, related_name="+")
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    pdmp_check = models.ForeignKey(PdmpCheck, on_delete=models.PROTECT, related_name="+")
    in_person_evaluation = models.ForeignKey(
        InPersonEvaluation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Clinical fields, as signed.
    drug_name = models.CharField(max_length=100)
    strength = models.CharField(max_length=32)  # "100 mg"
    dosage_form = models.CharField(max_length=32, choices=DosageForm.choices)
    route = models.CharField(max_length=16, choices=Route.choices)
    quantity = models.PositiveIntegerField()  # units (tablets, troches, sprays)
    quantity_words = models.CharField(max_length=200)
    directions = EncryptedTextField()
    dose_per_session_mg = models.DecimalField(max_digits=7, decimal_places=2)
    max_per_session_mg = models.DecimalField(max_digits=7, decimal_places=2)
    min_hours_between_sessions = models.PositiveSmallIntegerField()
    planned_sessions = models.PositiveSmallIntegerField()
    days_supply = models.PositiveSmallIntegerField()
    refills = models.PositiveSmallIntegerField()
    issued_on = models.DateField()
    expires_on = models.DateField()
    # The patient and prescriber as they were at signing.
    patient_name = EncryptedTextField()
    patient_address = EncryptedTextField()
    patient_state = models.CharField(max_length=2, choices=State.choices)
    prescriber_name = models.CharField(max_length=200)
    prescriber_address = models.CharField(max_length=300)
    prescriber_npi = models.CharField(max_length=10)
    prescriber_dea_number = models.CharField(max_length=9)
    prescriber_cds_number = models.CharField(max_length=32, blank=True)
    signed_at = models.DateTimeField()
    # The one change a signed prescription allows.
    status = models.CharField(
        max_length=16, choices=PrescriptionStatus.choices, default=PrescriptionStatus.SIGNED
    )
    canceled_at = models.DateTimeField(null=True, blank=True)
    canceled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = EncryptedTextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "issued_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(refills__lte=5), name="at_most_five_refills"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(planned_sessions__gt=0) & Q(days_supply__gt=0),
                name="prescription_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(dose_per_session_mg__gt=0)
                & Q(dose_per_session_mg__lte=models.F("max_per_session_mg")),
                name="prescription_dose_within_max",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__gt=models.F("issued_on")), name="expires_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(patient_state__in=[State.FL, State.NJ]),
                name="prescription_patient_in_fl_or_nj",
            ),
            models.CheckConstraint(
                condition=Q(status=PrescriptionStatus.SIGNED, canceled_at__isnull=True)
                | Q(status=PrescriptionStatus.CANCELED, canceled_at__isnull=False),
                name="canceled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"prescription {self.public_id}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id

    @property
    def app_path(self) -> str:
        return f"/app/prescriptions/{self.public_id}"

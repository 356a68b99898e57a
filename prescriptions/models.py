"""The catalog (compounded ketamine formulations, partner pharmacies, carriers), dosing
protocols, prescriptions and their PDMP checks, and delivery orders with their timeline.

A prescription is written once, signed, and never changes: its clinical fields and the
patient's and prescriber's details as they were at signing are a snapshot (a trigger in
PostgreSQL refuses edits, migration 0002). Fills are delivery orders: the first at
signing, one per refill after it, and replacements for lost packages.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.models import PhysicianProfile, State, User
from accounts.validators import validate_npi
from core.crypto import EncryptedTextField
from patients.models import Patient
from prescriptions.validators import validate_order_url
from scheduling.models import Appointment

# --- catalog ---------------------------------------------------------------------------


class DosageForm(models.TextChoices):
    RAPID_DISSOLVE_TABLET = "rapid_dissolve_tablet"
    TROCHE = "troche"
    NASAL_SPRAY = "nasal_spray"


class Route(models.TextChoices):
    SUBLINGUAL = "sublingual"
    BUCCAL = "buccal"
    INTRANASAL = "intranasal"


class Medication(models.Model):
    """One compounded formulation: "Ketamine HCl 100 mg rapid-dissolve tablet".
    `strength_mg` is the ketamine in one `unit` (a tablet, a troche, a spray)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)  # the drug: "Ketamine HCl"
    dosage_form = models.CharField(max_length=32, choices=DosageForm.choices)
    route = models.CharField(max_length=16, choices=Route.choices)
    strength_mg = models.DecimalField(max_digits=7, decimal_places=2)
    unit = models.CharField(max_length=16)  # "tablet", "troche", "spray"
    schedule = models.CharField(max_length=4, default="III")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "dosage_form", "strength_mg"], name="one_formulation_per_strength"
            ),
            models.CheckConstraint(condition=Q(strength_mg__gt=0), name="strength_positive"),
        ]

    def __str__(self) -> str:
        strength = format(self.strength_mg.normalize(), "f")  # 100.00 -> "100", not "1E+2"
        return f"{self.name} {strength} mg {self.get_dosage_form_display()}"


class Pharmacy(models.Model):
    """A partner 503A compounding pharmacy. It signs its status webhooks with
    `webhook_secret`, and we sign what we send it with the same secret."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    npi = models.CharField(max_length=10, unique=True, validators=[validate_npi])
    dea_number = models.CharField(max_length=9)
    ships_to = ArrayField(models.CharField(max_length=2, choices=State.choices), default=list)
    active = models.BooleanField(default=True)
    # Where the HTTP backend posts orders; the local backend ignores it.
    order_url = models.URLField(blank=True, validators=[validate_order_url])
    webhook_secret = EncryptedTextField()

    class Meta:
        verbose_name_plural = "pharmacies"

    def __str__(self) -> str:
        return self.name


class Carrier(models.Model):
    """A parcel carrier: its status webhooks are signed with `webhook_secret`;
    `tracking_url_template` has a `{tracking_number}` placeholder."""

    code = models.SlugField(max_length=32, unique=True)  # "ups"
    name = models.CharField(max_length=100)
    tracking_url_template = models.URLField(max_length=300)
    webhook_secret = EncryptedTextField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def tracking_url(self, tracking_number: str) -> str:
        return self.tracking_url_template.format(tracking_number=tracking_number)


# --- protocols -------------------------------------------------------------------------


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


# --- prescribing -----------------------------------------------------------------------


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


# --- delivery orders -------------------------------------------------------------------


class OrderKind(models.TextChoices):
    FIRST_FILL = "first_fill"  # made at signing
    REFILL = "refill"
    REPLACEMENT = "replacement"  # for a lost or returned package; never counts as a refill


class OrderStatus(models.TextChoices):
    CREATED = "created"
    SENT_TO_PHARMACY = "sent_to_pharmacy"
    COMPOUNDING = "compounding"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"
    CANCELED = "canceled"


class DeliveryOrder(models.Model):
    """One fill of a prescription on its way from the pharmacy to the patient's door.
    The ship-to address is a snapshot (encrypted; state and county plain, for routing and
    the ops filters). `status` only moves through prescriptions.services.orders, which
    writes a DeliveryEvent for every change."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # What ops admins search for and read over the phone: "KD-7Q4M9X2P".
    number = models.CharField(max_length=16, unique=True)
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="orders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=16, choices=OrderKind.choices)
    # 0 for the first fill, 1..refills for refills; null for a replacement.
    fill_number = models.PositiveSmallIntegerField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacement"
    )
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    ship_to_name = EncryptedTextField()
    ship_to_line1 = EncryptedTextField()
    ship_to_line2 = EncryptedTextField(blank=True)
    ship_to_city = EncryptedTextField()
    ship_to_zip = EncryptedTextField()
    ship_to_state = models.CharField(max_length=2, choices=State.choices)
    ship_to_county = models.CharField(max_length=64)
    carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    tracking_number = models.CharField(max_length=64, blank=True)
    delivered_signed_by = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_to_pharmacy_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set once by the overdue task (with why); ops admins are alerted once per order.
    overdue_at = models.DateTimeField(null=True, blank=True)
    overdue_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["ship_to_state", "ship_to_county"]),
            models.Index(fields=["pharmacy", "created_at"]),
            models.Index(fields=["tracking_number"]),
            # The ops search: a tracking number in any case (selectors.tracking, admin).
            models.Index(Upper("tracking_number"), name="order_tracking_number_upper"),
            # The ops list's usual filter (statuses in a state), newest first, and its count.
            models.Index(
                fields=["status", "ship_to_state", "created_at"], name="order_status_state_created"
            ),
            # The list's total for statuses in a state (selectors.tracking_page): a few dozen
            # distinct keys, so deduplication makes its index-only count read a fifth of
            # the pages of the one above.
            models.Index(fields=["ship_to_state", "status"], name="order_state_status"),
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            # A refill asked twice, or concurrently, is one order.
            models.UniqueConstraint(
                fields=["prescription", "fill_number"],
                condition=Q(fill_number__isnull=False),
                name="one_order_per_fill",
            ),
            models.CheckConstraint(
                condition=Q(kind=OrderKind.REPLACEMENT, fill_number__isnull=True)
                | (~Q(kind=OrderKind.REPLACEMENT) & Q(fill_number__isnull=False)),
                name="fills_numbered_replacements_not",
            ),
            models.CheckConstraint(
                condition=Q(kind=OrderKind.REPLACEMENT) | Q(replaces__isnull=True),
                name="only_replacements_replace",
            ),
            models.CheckConstraint(
                condition=Q(ship_to_state__in=[State.FL, State.NJ]),
                name="ship_only_to_fl_or_nj",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.number}"

    @property
    def audit_patient_id(self) -> uuid.UUID:
        return self.patient.public_id

    @property
    def app_path(self) -> str:
        return f"/app/orders/{self.public_id}"

    @property
    def ops_path(self) -> str:
        """Where an ops admin opens the order (the link in their alerts: an id only)."""
        return f"/ops/deliveries/{self.public_id}"

    @property
    def ship_to(self) -> dict[str, str]:
        """The ship-to snapshot, decrypted (every reader shows the same address)."""
        return {
            "name": self.ship_to_name,
            "line1": self.ship_to_line1,
            "line2": self.ship_to_line2 or "",
            "city": self.ship_to_city,
            "state": self.ship_to_state,
            "zip_code": self.ship_to_zip,
            "county": self.ship_to_county,
        }


class EventSource(models.TextChoices):
    PATIENT = "patient"
    PHYSICIAN = "physician"
    OPS_ADMIN = "ops_admin"
    PHARMACY = "pharmacy"  # a signed pharmacy webhook
    CARRIER = "carrier"  # a signed carrier webhook
    SYSTEM = "system"  # our own tasks (the pharmacy hand-off, overdue detection)


class DeliveryEvent(models.Model):
    """One line of an order's timeline: a status change, or a note. Append-only."""

    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=EventSource.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    # The pharmacy's or carrier's event id for webhook events.
    external_id = models.CharField(max_length=128, blank=True)
    note = EncryptedTextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["order", "at"])]

    def __str__(self) -> str:
        return f"event {self.pk} of order {self.order_id}"


class StatusReport(models.Model):
    """Every signed status webhook received, once per (sender, event id): a repeat is
    answered without doing anything again, and a report that arrives before the status
    it follows waits here until it can apply."""

    sender = models.CharField(max_length=48)  # "pharmacy:<public_id>" or "carrier:<code>"
    event_id = models.CharField(max_length=128)
    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # Carrier, tracking number, who signed: only what the status needs.
    payload = models.JSONField(default=dict)
    applied_at = models.DateTimeField(null=True, blank=True)
    ignored_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "event_id"], name="one_report_per_event"),
        ]

    def __str__(self) -> str:
        return f"report {self.sender} {self.event_id}"


class SubmissionStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class PharmacySubmission(models.Model):
    """The outbox row that hands an order to its pharmacy, once: the task claims it with
    a conditional UPDATE and does nothing on a final state. `idempotency_key` goes with
    every attempt so the pharmacy can drop a retry of one it already has."""

    order = models.OneToOneField(DeliveryOrder, on_delete=models.PROTECT, related_name="submission")
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    pharmacy_reference = models.CharField(max_length=128, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"submission of order {self.order_id}"


class LocalPharmacyReceipt(models.Model):
    """What the local pharmacy backend (the embedded default, prescriptions.pharmacy.local)
    received: no copy of the order, only its digest. One row per idempotency key, so a
    retried hand-off is dropped as a real pharmacy would drop it; in `make run` it plays
    the pharmacy and the carrier for these orders until they are delivered."""

    order = models.ForeignKey(DeliveryOrder, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.UUIDField(unique=True)
    payload_sha256 = models.CharField(max_length=64)
    reference = models.CharField(max_length=32)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"local pharmacy receipt {self.reference}"
